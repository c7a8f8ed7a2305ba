"""Avro wire codec: single-object encoding by default, Confluent framing with a registry.

Without a registry, records are written in the Avro single-object encoding
(``C3 01`` + 8-byte little-endian CRC-64-AVRO fingerprint + body) and resolved
against the local :class:`SchemaStore`. When a Schema Registry client is given,
records are written with the Confluent framing (``00`` + 4-byte big-endian schema
id + body) under the record-name subject strategy (subject = full record name).
Readers accept both framings and project older writer schemas onto the current one.

This is the one decoder of the project: producers encode with it, the processor
and every sink decode with it. Each writer schema is resolved once (by fingerprint
or registry id) and its parsed writer and reader schemas are reused, because the
hot paths decode hundreds of thousands of values per second. A codec made with
``logical_types=False`` reads Avro logical types as their primitive values (dates
as days, timestamps as epoch units, uuids as text), for columnar sinks that convert
in bulk instead of building ``date``/``datetime``/``UUID`` objects only to take them
apart again; encoding with it takes those primitive values too.
"""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import to_parsing_canonical_form

from daas.errors import DecodeError, SchemaError
from schemas.store import SchemaStore, StoredSchema, crc64_avro

if TYPE_CHECKING:
    from confluent_kafka.schema_registry import SchemaRegistryClient

__all__ = ["CONFLUENT_MAGIC", "SINGLE_OBJECT_MAGIC", "AvroCodec", "Decoded", "UnknownSchemaError",
           "without_logical_types"]

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"
_SINGLE_HEADER = 10
_CONFLUENT_HEADER = 5


class UnknownSchemaError(DecodeError):
    """The value was written with a schema this reader does not know (yet)."""


def without_logical_types(schema: Any) -> Any:
    """``schema`` with every ``logicalType`` annotation removed (values read as primitives)."""
    if isinstance(schema, dict):
        return {k: without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [without_logical_types(s) for s in schema]
    return schema


@dataclass(frozen=True)
class Decoded:
    """A record read from the wire, projected onto the current schema ``schema``."""

    schema: StoredSchema
    record: dict[str, Any]
    framing: str  # "single-object" or "confluent"


@dataclass(frozen=True, slots=True)
class _Resolved:
    """A writer schema met on the wire, resolved once against the current schema of its type."""

    writer: Any  # parsed
    reader: Any  # parsed current schema, or None when the writer is the current one
    schema: StoredSchema
    framing: str


class AvroCodec:
    """Encodes records of the project's schemas and decodes both wire framings.

    Stateless apart from caches; one instance per process (and per logical-type mode)
    is enough. Producers call ``encode``; the processor calls ``decode`` (it needs the
    record type); sinks call ``decode_record``.
    """

    def __init__(self, store: SchemaStore | None = None, registry: SchemaRegistryClient | None = None, *,
                 logical_types: bool = True) -> None:
        self.store = store or SchemaStore.default()
        self.registry = registry
        self.logical_types = logical_types
        self._writers: dict[str, tuple[bytes, Any]] = {}  # name -> wire header, parsed current schema (this mode)
        self._by_fingerprint: dict[bytes, _Resolved] = {}
        self._by_id: dict[int, _Resolved] = {}

    @classmethod
    def from_settings(cls, schema_registry_url: str | None, schema_dir: Path | None = None) -> AvroCodec:
        """The codec a stage uses: Confluent framing only when a registry URL is set; the
        project's schemas unless ``schema_dir`` (``DAAS_SCHEMA_DIR``) names another release."""
        store = SchemaStore(schema_dir) if schema_dir else None
        if not schema_registry_url:
            return cls(store)
        from confluent_kafka.schema_registry import SchemaRegistryClient

        return cls(store, registry=SchemaRegistryClient({"url": schema_registry_url}))

    def with_logical_types(self, logical_types: bool) -> AvroCodec:
        """A codec over the same store and registry, reading logical types as objects or primitives."""
        if logical_types == self.logical_types:
            return self
        return AvroCodec(self.store, self.registry, logical_types=logical_types)

    def _parse(self, raw: dict[str, Any]) -> Any:
        return parse_schema(raw if self.logical_types else without_logical_types(raw))

    # -- encoding ----------------------------------------------------------------------

    def _writer(self, name: str) -> tuple[bytes, Any]:
        """The wire header and parsed schema that records of ``name`` are written with (made once)."""
        writer = self._writers.get(name)
        if writer is not None:
            return writer
        schema = self.store.current(name)
        if self.registry is None:
            header = SINGLE_OBJECT_MAGIC + schema.fingerprint
        else:
            from confluent_kafka.schema_registry import Schema

            schema_id = self.registry.register_schema(schema.full_name, Schema(json.dumps(schema.raw), "AVRO"))
            header = CONFLUENT_MAGIC + struct.pack(">I", schema_id)
        writer = self._writers[name] = (header, schema.parsed if self.logical_types else self._parse(schema.raw))
        return writer

    def encode(self, name: str, record: dict[str, Any]) -> bytes:
        """Wire bytes of ``record`` under the current schema ``name``."""
        return self.encode_many(name, [record])[0]

    def encode_many(self, name: str, records: list[dict[str, Any]]) -> list[bytes]:
        """``encode`` for a batch (the hot path of producers and processors)."""
        header, parsed = self._writer(name)
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

    # -- decoding ----------------------------------------------------------------------

    def decode(self, data: bytes | None) -> Decoded:
        """Read one value in either framing; DecodeError says why it cannot be read."""
        resolved, start = self._resolve(data)
        return Decoded(resolved.schema, self._read(data, start, resolved), resolved.framing)  # type: ignore[arg-type]

    def decode_record(self, data: bytes | None) -> dict[str, Any]:
        """Just the record of ``decode`` (what sinks need)."""
        resolved, start = self._resolve(data)
        return self._read(data, start, resolved)  # type: ignore[arg-type]

    def decode_many(self, values: list[bytes | None]) -> list[Decoded | DecodeError]:
        """``decode`` for a batch: each value's record, or the error that says why it has none."""
        out: list[Decoded | DecodeError] = []
        for data in values:
            try:
                out.append(self.decode(data))
            except DecodeError as exc:
                out.append(exc)
        return out

    def _resolve(self, data: bytes | None) -> tuple[_Resolved, int]:
        if not data:
            raise DecodeError("empty value: no Avro header")
        if data[:2] == SINGLE_OBJECT_MAGIC:
            if len(data) < _SINGLE_HEADER:
                raise DecodeError(f"truncated single-object header ({len(data)} bytes)")
            fingerprint = data[2:_SINGLE_HEADER]
            resolved = self._by_fingerprint.get(fingerprint)
            if resolved is None:
                resolved = self._by_fingerprint[fingerprint] = self._resolve_fingerprint(fingerprint)
            return resolved, _SINGLE_HEADER
        if data[:1] == CONFLUENT_MAGIC:
            if len(data) < _CONFLUENT_HEADER:
                raise DecodeError(f"truncated Confluent header ({len(data)} bytes)")
            (schema_id,) = struct.unpack(">I", data[1:_CONFLUENT_HEADER])
            resolved = self._by_id.get(schema_id)
            if resolved is None:
                resolved = self._by_id[schema_id] = self._resolve_registry_id(schema_id)
            return resolved, _CONFLUENT_HEADER
        raise DecodeError(
            f"unknown magic byte 0x{data[0]:02x}: expected C3 01 (Avro single-object) or 00 (Confluent)"
        )

    def _resolved(self, writer_raw: dict[str, Any], writer_fingerprint: bytes, framing: str) -> _Resolved:
        full_name = f"{writer_raw.get('namespace', '')}.{writer_raw['name']}".lstrip(".")
        current = self.store.current_for_full_name(full_name)
        if current is None:
            raise DecodeError(f"no current schema for record type {full_name}")
        same = writer_fingerprint == current.fingerprint
        writer = current.parsed if same and self.logical_types else self._parse(writer_raw)
        return _Resolved(writer, None if same else self._parse(current.raw), current, framing)

    def _resolve_fingerprint(self, fingerprint: bytes) -> _Resolved:
        writer = self.store.by_fingerprint(fingerprint)
        if writer is None:
            raise UnknownSchemaError(
                f"unknown writer schema (single-object fingerprint {fingerprint.hex()}): written with a schema "
                "version this reader was not given; release that version (schemas/history) and deploy it, or "
                "configure DAAS_SCHEMA_REGISTRY_URL, then re-drive the dead letters (`daas dlq redrive`)")
        return self._resolved(writer.raw, writer.fingerprint, "single-object")

    def _resolve_registry_id(self, schema_id: int) -> _Resolved:
        if self.registry is None:
            raise UnknownSchemaError(f"Confluent-framed value (schema id {schema_id}) but no schema registry is "
                                     "configured; set DAAS_SCHEMA_REGISTRY_URL")
        try:
            raw = json.loads(self.registry.get_schema(schema_id).schema_str)
        except Exception as exc:  # noqa: BLE001 - any registry failure means unreadable here
            raise UnknownSchemaError(f"schema id {schema_id} not readable from the registry: {exc}") from exc
        return self._resolved(raw, crc64_avro(to_parsing_canonical_form(raw).encode()), "confluent")

    @staticmethod
    def _read(data: bytes, start: int, resolved: _Resolved) -> dict[str, Any]:
        buf = io.BytesIO(data)
        buf.seek(start)
        try:
            record = schemaless_reader(buf, resolved.writer, resolved.reader)
        except Exception as exc:  # noqa: BLE001 - corrupt bodies raise many types inside fastavro
            raise DecodeError(f"corrupt Avro body for {resolved.schema.full_name}: {type(exc).__name__}: {exc}") from exc
        if buf.tell() != len(data):
            raise DecodeError(f"{len(data) - buf.tell()} trailing bytes after the {resolved.schema.full_name} body")
        return record  # type: ignore[return-value]
