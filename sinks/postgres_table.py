"""The Postgres sink's table: created from the Avro schema, evolved only compatibly.

``ensure_table`` runs when the sink connects. A missing table is created from the
current Avro schema plus the Kafka lineage columns and ``updated_at`` (the cursor
Airbyte's incremental sync reads). On an existing table:

- a new optional field becomes a new nullable column;
- a new required field becomes a ``not null`` column only while the table is empty
  (existing rows would have no value); otherwise it is a ``SchemaError``;
- a field that became optional drops its column's ``not null``;
- a column whose type differs from the field's is a ``SchemaError``: the sink stops,
  naming the field, both types and the way out.

Every change runs in one transaction under an advisory lock, so sink instances that
start together do not race.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from daas.errors import SchemaError
from schemas.columns import Column

__all__ = ["UPDATED_AT", "TableSpec", "ensure_table"]

log = logging.getLogger(__name__)

UPDATED_AT = "updated_at"
# information_schema.columns.data_type for each of our SQL types.
_CATALOG_TYPE = {"text": "text", "uuid": "uuid", "boolean": "boolean", "integer": "integer", "bigint": "bigint",
                 "real": "real", "double precision": "double precision", "date": "date",
                 "timestamptz": "timestamp with time zone"}


@dataclass(frozen=True)
class TableSpec:
    """A table (``schema.name``) and its columns in order; the key is ``record_id``."""

    schema: str
    name: str
    columns: Sequence[Column]

    @property
    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def _definition(column: Column, *, not_null: bool) -> sql.Composable:
    return sql.SQL("{} {}{}").format(sql.Identifier(column.name), sql.SQL(column.sql_type),
                                     sql.SQL(" not null" if not_null else ""))


def ensure_table(conn: psycopg.Connection, spec: TableSpec) -> list[str]:
    """Create or evolve ``spec``'s table; return the changes made, raise SchemaError
    naming the field for a change that cannot be made safely."""
    changes: list[str] = []
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (spec.qualified,))
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(spec.schema)))
        existing = {name: (data_type, nullable == "YES") for name, data_type, nullable in conn.execute(
            "select column_name, data_type, is_nullable from information_schema.columns "
            "where table_schema = %s and table_name = %s", (spec.schema, spec.name))}
        if not existing:
            defs = [_definition(c, not_null=not c.nullable) for c in spec.columns]
            conn.execute(sql.SQL(
                "create table {} ({}, {} timestamptz not null default clock_timestamp(), primary key (record_id))"
            ).format(spec.identifier, sql.SQL(", ").join(defs), sql.Identifier(UPDATED_AT)))
            conn.execute(sql.SQL("create index {} on {} ({})").format(
                sql.Identifier(f"{spec.name}_{UPDATED_AT}_idx"), spec.identifier, sql.Identifier(UPDATED_AT)))
            return [f"created {spec.qualified}"]
        has_rows = conn.execute(sql.SQL("select exists (select 1 from {})").format(spec.identifier)).fetchone()
        for column in spec.columns:
            found = existing.get(column.name)
            if found is None:
                if not column.nullable and has_rows and has_rows[0]:
                    raise SchemaError(
                        f"field {column.name!r} is required in the schema but {spec.qualified} has no column "
                        f"{column.name} and already holds rows, so a not-null column cannot be added; make the "
                        "field optional (a union with null and a default), or migrate the table by hand")
                conn.execute(sql.SQL("alter table {} add column {}").format(
                    spec.identifier, _definition(column, not_null=not column.nullable)))
                changes.append(f"added column {column.name} {column.sql_type}"
                               f"{'' if column.nullable else ' not null'}")
                continue
            data_type, nullable = found
            wanted = _CATALOG_TYPE[column.sql_type]
            if data_type != wanted:
                raise SchemaError(
                    f"field {column.name!r} needs column type {wanted} but {spec.qualified}.{column.name} is "
                    f"{data_type}; a type change is not a compatible schema change: add a new field instead, "
                    "or migrate the table by hand")
            if column.nullable and not nullable:
                conn.execute(sql.SQL("alter table {} alter column {} drop not null").format(
                    spec.identifier, sql.Identifier(column.name)))
                changes.append(f"column {column.name} became nullable")
        known = {c.name for c in spec.columns} | {UPDATED_AT}
        for name, (_, nullable) in existing.items():
            if name not in known and not nullable:
                # A field left the schema: new rows cannot fill its column any more.
                conn.execute(sql.SQL("alter table {} alter column {} drop not null").format(
                    spec.identifier, sql.Identifier(name)))
                changes.append(f"column {name} is no longer in the schema and became nullable")
    for change in changes:
        log.warning("%s: %s", spec.qualified, change)
    return changes
