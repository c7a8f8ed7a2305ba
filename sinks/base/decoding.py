"""Decoding for sinks: the codec's framing rules, with every schema parsed once.

``schemas.AvroCodec.decode`` serves one value at a time. Sinks decode hundreds of
thousands per second, so this decoder resolves each writer schema once per
fingerprint (or registry id), parses writer and reader once, and reuses them. With
``logical_types=False`` it reads Avro logical types as their primitive values (dates
as days, timestamps as epoch units, uuids as text), which columnar sinks convert in
bulk (Arrow casts) instead of building Python ``date``/``datetime``/``UUID`` objects
only to take them apart again. Older compatible writer schemas are projected onto
the current one exactly as the codec does.
"""

from __future__ import annotations

import io
import json
import struct
from typing import Any

from fastavro import parse_schema, schemaless_reader
from fastavro.schema import to_parsing_canonical_form

from daas.errors import DecodeError
from schemas import AvroCodec, StoredSchema
from schemas.codec import CONFLUENT_MAGIC, SINGLE_OBJECT_MAGIC
from schemas.store import crc64_avro

__all__ = ["ValueDecoder", "without_logical_types"]

_SINGLE_HEADER = 10
_CONFLUENT_HEADER = 5


def without_logical_types(schema: Any) -> Any:
    """``schema`` with every ``logicalType`` annotation removed (values read as primitives)."""
    if isinstance(schema, dict):
        return {k: without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [without_logical_types(s) for s in schema]
    return schema


class _Resolved:
    __slots__ = ("name", "reader", "writer")

    def __init__(self, writer: Any, reader: Any, name: str) -> None:
        self.writer, self.reader, self.name = writer, reader, name


class ValueDecoder:
    """Callable: wire bytes (single-object or Confluent framing) → record dict.

    One per runner; the runner hands it to each :class:`sinks.base.Batch`. Raises
    ``DecodeError`` with the reason, like the codec.
    """

    def __init__(self, codec: AvroCodec, *, logical_types: bool = True) -> None:
        self._codec = codec
        self._logical = logical_types
        self._by_fingerprint: dict[bytes, _Resolved] = {}
        self._by_id: dict[int, _Resolved] = {}

    def _parse(self, raw: dict[str, Any]) -> Any:
        return parse_schema(raw if self._logical else without_logical_types(raw))

    def _resolve(self, writer_raw: dict[str, Any], writer_fingerprint: bytes, full_name: str) -> _Resolved:
        reader: StoredSchema | None = self._codec.store.current_for_full_name(full_name)
        if reader is None:
            raise DecodeError(f"no current schema for record type {full_name}")
        writer = self._parse(writer_raw)
        same = writer_fingerprint == reader.fingerprint
        return _Resolved(writer, None if same else self._parse(reader.raw), reader.full_name)

    def _single_object(self, data: bytes) -> _Resolved:
        fingerprint = data[2:_SINGLE_HEADER]
        resolved = self._by_fingerprint.get(fingerprint)
        if resolved is None:
            writer = self._codec.store.by_fingerprint(fingerprint)
            if writer is None:
                raise DecodeError(f"unknown schema fingerprint {fingerprint.hex()}")
            resolved = self._by_fingerprint[fingerprint] = self._resolve(writer.raw, writer.fingerprint,
                                                                         writer.full_name)
        return resolved

    def _confluent(self, schema_id: int) -> _Resolved:
        resolved = self._by_id.get(schema_id)
        if resolved is None:
            registry = self._codec.registry
            if registry is None:
                raise DecodeError(f"Confluent-framed value (schema id {schema_id}) but no schema registry "
                                  "is configured")
            try:
                raw = json.loads(registry.get_schema(schema_id).schema_str)
            except Exception as exc:
                raise DecodeError(f"schema id {schema_id} not readable from the registry: {exc}") from exc
            full_name = f"{raw.get('namespace', '')}.{raw['name']}".lstrip(".")
            fingerprint = crc64_avro(to_parsing_canonical_form(raw).encode())
            resolved = self._by_id[schema_id] = self._resolve(raw, fingerprint, full_name)
        return resolved

    def __call__(self, data: bytes | None) -> dict[str, Any]:
        if not data:
            raise DecodeError("empty value: no Avro header")
        if data[:2] == SINGLE_OBJECT_MAGIC:
            if len(data) < _SINGLE_HEADER:
                raise DecodeError(f"truncated single-object header ({len(data)} bytes)")
            resolved, start = self._single_object(data), _SINGLE_HEADER
        elif data[:1] == CONFLUENT_MAGIC:
            if len(data) < _CONFLUENT_HEADER:
                raise DecodeError(f"truncated Confluent header ({len(data)} bytes)")
            resolved, start = self._confluent(struct.unpack(">I", data[1:_CONFLUENT_HEADER])[0]), _CONFLUENT_HEADER
        else:
            raise DecodeError(f"unknown magic byte 0x{data[0]:02x}: expected C3 01 (Avro single-object) "
                              "or 00 (Confluent)")
        buf = io.BytesIO(data)
        buf.seek(start)
        try:
            record = schemaless_reader(buf, resolved.writer, resolved.reader)
        except Exception as exc:
            raise DecodeError(f"corrupt Avro body for {resolved.name}: {type(exc).__name__}: {exc}") from exc
        if buf.tell() != len(data):
            raise DecodeError(f"{len(data) - buf.tell()} trailing bytes after the {resolved.name} body")
        return record  # type: ignore[return-value]
