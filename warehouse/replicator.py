"""Stand-in for Airbyte, locally: RDS ``encounters`` → warehouse ``rds.encounters``.

Same semantics as the Airbyte connection on AWS (incremental, append + deduped on
``record_id``, cursor on ``updated_at``): rows whose ``updated_at`` is past the saved
cursor are upserted, newest ``updated_at`` wins, and the cursor is saved in the
warehouse in the same transaction. The cursor is re-read with a small overlap,
because a transaction can commit a row with an ``updated_at`` earlier than rows
already seen; the upsert makes re-reading harmless.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
from psycopg import sql

from sinks.avro_types import encounter_columns

__all__ = ["OVERLAP", "replicate_encounters"]

OVERLAP = timedelta(seconds=30)
_STREAM = "encounters"


def _ensure(conn: psycopg.Connection) -> list[str]:
    cols = encounter_columns()
    defs = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.sql_type)) for c in cols)
    with conn.transaction():
        conn.execute("create schema if not exists rds")
        conn.execute(sql.SQL("create table if not exists rds.encounters ({}, updated_at timestamptz not null, "
                             "primary key (record_id))").format(defs))
        conn.execute("create table if not exists rds.replication_state (stream text primary key, "
                     "cursor_value timestamptz not null, synced_at timestamptz not null default now())")
    return [c.name for c in cols] + ["updated_at"]


def replicate_encounters(source: psycopg.Connection, warehouse: psycopg.Connection, *,
                         source_table: str = "encounters", batch_size: int = 5000) -> int:
    """Copy new and changed rows; return how many rows were read from the source."""
    names = _ensure(warehouse)
    row = warehouse.execute("select cursor_value from rds.replication_state where stream = %s", (_STREAM,)).fetchone()
    cursor = row[0] - OVERLAP if row else None
    cols = sql.SQL(", ").join(map(sql.Identifier, names))
    query = sql.SQL("select {} from {} {} order by updated_at").format(
        cols, sql.Identifier(source_table), sql.SQL("where updated_at > %s" if cursor else ""))
    sets = sql.SQL(", ").join(sql.SQL("{} = excluded.{}").format(sql.Identifier(n), sql.Identifier(n))
                              for n in names if n != "record_id")
    upsert = sql.SQL("insert into rds.encounters ({}) values ({}) on conflict (record_id) do update set {} "
                     "where rds.encounters.updated_at < excluded.updated_at").format(
        cols, sql.SQL(", ").join(sql.Placeholder() * len(names)), sets)
    read = 0
    newest = row[0] if row else None
    with source.cursor() as src, warehouse.transaction(), warehouse.cursor() as dst:
        src.execute(query, (cursor,) if cursor else None)
        while rows := src.fetchmany(batch_size):
            dst.executemany(upsert, rows)
            read += len(rows)
            newest = rows[-1][-1] if newest is None or rows[-1][-1] > newest else newest
        if newest is not None:
            dst.execute("insert into rds.replication_state (stream, cursor_value) values (%s, %s) "
                        "on conflict (stream) do update set cursor_value = excluded.cursor_value, synced_at = now()",
                        (_STREAM, newest))
    return read
