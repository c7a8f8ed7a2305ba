"""Avro wire codec: single-object encoding by default, Confluent framing with a registry.

Without a registry, records are written in the Avro single-object encoding
(``C3 01`` + 8-byte little-endian CRC-64-AVRO fingerprint + body) and resolved
against the local :class:`SchemaStore`. When a Schema Registry client is given,
records are written with the Confluent framing (``00`` + 4-byte big-endian schema
id + body) under the record-name subject strategy (subject = full record name).
Readers accept both framings and project older writer schemas onto the current one.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from daas.errors import DecodeError, SchemaError
from schemas.store import SchemaStore, StoredSchema

if TYPE_CHECKING:
    from confluent_kafka.schema_registry import SchemaRegistryClient

__all__ = ["CONFLUENT_MAGIC", "SINGLE_OBJECT_MAGIC", "AvroCodec", "Decoded"]

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"
_SINGLE_HEADER = 10
_CONFLUENT_HEADER = 5


@dataclass(frozen=True)
class Decoded:
    """A record read from the wire, projected onto the current schema ``schema``."""

    schema: StoredSchema
    record: dict[str, Any]
    framing: str  # "single-object" or "confluent"


class AvroCodec:
    """Encodes records of the project's schemas and decodes both wire framings.

    Stateless apart from caches; one instance per process is enough. Producers call
    ``encode``; processors and sinks call ``decode`` (or ``decode_many`` on batches).
    """

    def __init__(self, store: SchemaStore | None = None, registry: SchemaRegistryClient | None = None) -> None:
        self.store = store or SchemaStore.default()
        self.registry = registry
        self._registered: dict[str, tuple[bytes, Any]] = {}  # name -> (header, parsed)
        self._by_id: dict[int, tuple[Any, StoredSchema]] = {}

    @classmethod
    def from_settings(cls, schema_registry_url: str | None) -> AvroCodec:
        """The codec a stage uses: Confluent framing only when a registry URL is set."""
        if not schema_registry_url:
            return cls()
        from confluent_kafka.schema_registry import SchemaRegistryClient

        return cls(registry=SchemaRegistryClient({"url": schema_registry_url}))

    def _header(self, name: str) -> bytes:
        cached = self._registered.get(name)
        if cached is not None:
            return cached[0]
        schema = self.store.current(name)
        if self.registry is None:
            header = SINGLE_OBJECT_MAGIC + schema.fingerprint
        else:
            from confluent_kafka.schema_registry import Schema

            schema_id = self.registry.register_schema(schema.full_name, Schema(json.dumps(schema.raw), "AVRO"))
            header = CONFLUENT_MAGIC + struct.pack(">I", schema_id)
        self._registered[name] = (header, schema.parsed)
        return header

    def encode(self, name: str, record: dict[str, Any]) -> bytes:
        """Wire bytes of ``record`` under the current schema ``name``."""
        header = self._header(name)
        buf = io.BytesIO()
        buf.write(header)
        try:
            schemaless_writer(buf, self.store.current(name).parsed, record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise SchemaError(f"record does not fit schema {name}: {exc}") from exc
        return buf.getvalue()

    def encode_many(self, name: str, records: list[dict[str, Any]]) -> list[bytes]:
        """``encode`` for a batch (the hot path of producers and processors)."""
        header = self._header(name)
        parsed = self.store.current(name).parsed
        out = []
        for record in records:
            buf = io.BytesIO()
            buf.write(header)
            try:
                schemaless_writer(buf, parsed, record)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise SchemaError(f"record does not fit schema {name}: {exc}") from exc
            out.append(buf.getvalue())
        return out

    def decode(self, data: bytes | None) -> Decoded:
        """Read one value in either framing; DecodeError says why it cannot be read."""
        if not data:
            raise DecodeError("empty value: no Avro header")
        if data[:2] == SINGLE_OBJECT_MAGIC:
            if len(data) < _SINGLE_HEADER:
                raise DecodeError(f"truncated single-object header ({len(data)} bytes)")
            writer = self.store.by_fingerprint(data[2:_SINGLE_HEADER])
            if writer is None:
                raise DecodeError(f"unknown schema fingerprint {data[2:_SINGLE_HEADER].hex()}")
            reader = self._reader_for(writer.full_name)
            return Decoded(reader, self._read(data, _SINGLE_HEADER, writer.parsed, reader), "single-object")
        if data[:1] == CONFLUENT_MAGIC:
            if len(data) < _CONFLUENT_HEADER:
                raise DecodeError(f"truncated Confluent header ({len(data)} bytes)")
            (schema_id,) = struct.unpack(">I", data[1:_CONFLUENT_HEADER])
            writer_parsed, reader = self._registry_schema(schema_id)
            return Decoded(reader, self._read(data, _CONFLUENT_HEADER, writer_parsed, reader), "confluent")
        raise DecodeError(
            f"unknown magic byte 0x{data[0]:02x}: expected C3 01 (Avro single-object) or 00 (Confluent)"
        )

    def _reader_for(self, full_name: str) -> StoredSchema:
        reader = self.store.current_for_full_name(full_name)
        if reader is None:
            raise DecodeError(f"no current schema for record type {full_name}")
        return reader

    def _registry_schema(self, schema_id: int) -> tuple[Any, StoredSchema]:
        cached = self._by_id.get(schema_id)
        if cached is not None:
            return cached
        if self.registry is None:
            raise DecodeError(f"Confluent-framed value (schema id {schema_id}) but no schema registry is configured")
        try:
            registered = self.registry.get_schema(schema_id)
            raw = json.loads(registered.schema_str)
            writer_parsed = parse_schema(raw)
        except Exception as exc:  # noqa: BLE001 - any registry failure means unreadable here
            raise DecodeError(f"schema id {schema_id} not readable from the registry: {exc}") from exc
        full_name = f"{raw.get('namespace', '')}.{raw['name']}".lstrip(".")
        self._by_id[schema_id] = (writer_parsed, self._reader_for(full_name))
        return self._by_id[schema_id]

    @staticmethod
    def _read(data: bytes, offset: int, writer_parsed: Any, reader: StoredSchema) -> dict[str, Any]:
        buf = io.BytesIO(data)
        buf.seek(offset)
        same = writer_parsed is reader.parsed
        try:
            record = schemaless_reader(buf, writer_parsed, None if same else reader.parsed)
        except Exception as exc:  # noqa: BLE001 - corrupt bodies raise many types inside fastavro
            raise DecodeError(f"corrupt Avro body for {reader.full_name}: {type(exc).__name__}: {exc}") from exc
        if buf.tell() != len(data):
            raise DecodeError(f"{len(data) - buf.tell()} trailing bytes after the {reader.full_name} body")
        return record  # type: ignore[return-value]
