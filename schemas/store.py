"""The local schema store: no registry server needed.

The current version of each record type is ``schemas/<name>.avsc``; every released
version is kept under ``schemas/history/<name>/vNNNN.avsc``. Readers resolve a
writer's fingerprint against all of them, so records written under an older version
remain readable, projected onto the current one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import to_parsing_canonical_form

from daas.errors import SchemaError

__all__ = ["CLEAN_ENCOUNTER", "SCHEMA_DIR", "SHEET_ROW", "SIMUHEALTH_ENCOUNTER", "SchemaStore",
           "StoredSchema", "crc64_avro"]

SCHEMA_DIR = Path(__file__).resolve().parent
SIMUHEALTH_ENCOUNTER = "simuhealth_encounter"
SHEET_ROW = "sheet_row"
CLEAN_ENCOUNTER = "clean_encounter"

_EMPTY = 0xC15D213AA4D7A795


@cache
def _crc64_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return tuple(table)


def crc64_avro(data: bytes) -> bytes:
    """The CRC-64-AVRO (Rabin) fingerprint, as the 8 little-endian bytes the spec puts on the wire."""
    table = _crc64_table()
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp.to_bytes(8, "little")


@dataclass(frozen=True)
class StoredSchema:
    """One version of one record type."""

    name: str  # file stem, e.g. clean_encounter
    version: int  # 0 for the current file, N for history/vNNNN
    raw: dict[str, Any]
    parsed: Any  # fastavro's parsed form
    canonical: str
    fingerprint: bytes

    @property
    def full_name(self) -> str:
        return f"{self.raw.get('namespace', '')}.{self.raw['name']}".lstrip(".")


def _load(path: Path, name: str, version: int) -> StoredSchema:
    try:
        raw = json.loads(path.read_text())
        parsed = parse_schema(raw)
    except (OSError, ValueError, Exception) as exc:  # fastavro raises plain Exception subclasses
        raise SchemaError(f"{path}: not a valid Avro schema: {exc}") from exc
    canonical = to_parsing_canonical_form(raw)
    return StoredSchema(name, version, raw, parsed, canonical, crc64_avro(canonical.encode()))


class SchemaStore:
    """Every schema in a folder: the current ones and their released history."""

    def __init__(self, directory: Path = SCHEMA_DIR) -> None:
        self.directory = directory
        self._current: dict[str, StoredSchema] = {}
        self._by_fingerprint: dict[bytes, StoredSchema] = {}
        self._history: dict[str, list[StoredSchema]] = {}
        for path in sorted(directory.glob("*.avsc")):
            schema = _load(path, path.stem, 0)
            self._current[schema.name] = schema
            self._by_fingerprint[schema.fingerprint] = schema
        for path in sorted(directory.glob("history/*/v*.avsc")):
            schema = _load(path, path.parent.name, int(path.stem[1:]))
            self._history.setdefault(schema.name, []).append(schema)
            self._by_fingerprint.setdefault(schema.fingerprint, schema)
        if not self._current:
            raise SchemaError(f"no *.avsc schemas in {directory}")

    @classmethod
    @cache
    def default(cls) -> SchemaStore:
        """The project's own schemas, loaded once per process."""
        return cls()

    def names(self) -> list[str]:
        return sorted(self._current)

    def current(self, name: str) -> StoredSchema:
        try:
            return self._current[name]
        except KeyError:
            raise SchemaError(f"no schema {name!r}; known: {', '.join(self.names())}") from None

    def history(self, name: str) -> list[StoredSchema]:
        """Released versions of ``name``, oldest first."""
        return list(self._history.get(name, []))

    def by_fingerprint(self, fingerprint: bytes) -> StoredSchema | None:
        return self._by_fingerprint.get(fingerprint)

    def current_for_full_name(self, full_name: str) -> StoredSchema | None:
        """The current schema of the record type a (possibly older) writer schema names."""
        for schema in self._current.values():
            if schema.full_name == full_name:
                return schema
        return None
