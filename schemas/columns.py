"""Column types derived from the Avro schema, never inferred from a batch.

Part of the record contract, so the sinks and the warehouse ask here: the S3 sink for an
Arrow schema (Parquet), the Postgres sinks and the warehouse loader for SQL column
definitions, in the schema's field order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from daas.errors import SchemaError

__all__ = ["LINEAGE_COLUMNS", "Column", "arrow_schema", "columns", "encounter_columns"]


@dataclass(frozen=True)
class Column:
    name: str
    avro: str  # primitive or logical type name
    nullable: bool

    @property
    def sql_type(self) -> str:
        return _SQL[self.avro]

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW[self.avro]


_ARROW: dict[str, pa.DataType] = {
    "string": pa.string(), "uuid": pa.string(), "enum": pa.string(), "boolean": pa.bool_(),
    "int": pa.int32(), "long": pa.int64(), "float": pa.float32(), "double": pa.float64(),
    "date": pa.date32(), "timestamp-millis": pa.timestamp("ms", tz="UTC"),
    "timestamp-micros": pa.timestamp("us", tz="UTC"),
}
_SQL: dict[str, str] = {
    "string": "text", "uuid": "uuid", "enum": "text", "boolean": "boolean", "int": "integer",
    "long": "bigint", "float": "real", "double": "double precision", "date": "date",
    "timestamp-millis": "timestamptz", "timestamp-micros": "timestamptz",
}


def _kind(avro_type: Any) -> tuple[str, bool]:
    if isinstance(avro_type, list):
        branches = [t for t in avro_type if t != "null"]
        if len(branches) != 1:
            raise SchemaError(f"only [null, T] unions map to a column, not {avro_type}")
        return _kind(branches[0])[0], "null" in avro_type
    if isinstance(avro_type, dict):
        kind = avro_type.get("logicalType") or avro_type["type"]
        if kind not in _ARROW:
            raise SchemaError(f"Avro type {avro_type} has no column mapping")
        return kind, False
    if avro_type not in _ARROW:
        raise SchemaError(f"Avro type {avro_type!r} has no column mapping")
    return avro_type, False


def columns(schema: dict[str, Any]) -> list[Column]:
    """The flat record's columns in schema order (nested records are not supported)."""
    return [Column(f["name"], *_kind(f["type"])) for f in schema["fields"]]


def arrow_schema(schema: dict[str, Any]) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in columns(schema)])


# Kafka lineage kept next to each row in PostgreSQL (RDS) and its warehouse copy.
LINEAGE_COLUMNS = (Column("source_topic", "string", False), Column("source_partition", "int", False),
                   Column("source_offset", "long", False))


def encounter_columns() -> list[Column]:
    """The clean encounter's columns in schema order, then the Kafka lineage columns."""
    from schemas import CLEAN_ENCOUNTER, SchemaStore

    return columns(SchemaStore.default().current(CLEAN_ENCOUNTER).raw) + list(LINEAGE_COLUMNS)
