"""Stand-in for Airbyte, locally: RDS ``encounters`` → warehouse ``<rds>.encounters``.

On AWS an Airbyte connection (Postgres source, Redshift destination) does this sync;
Airbyte cannot run in the local stack, so this module reproduces the connection's
semantics and nothing more:

- incremental, cursor on ``updated_at`` (the Postgres sink moves it on every change);
- "append + deduped" on the primary key ``record_id``: the final table holds one row
  per record, the one with the newest cursor value;
- the cursor is kept in the warehouse (``<rds>.replication_state``) and saved in the
  same transaction as the rows, so a crash never skips or half-applies a sync;
- like Airbyte's incremental mode without CDC, hard deletes are not propagated.

The cursor is re-read with an overlap (``OVERLAP``) because a transaction can commit a
row whose ``updated_at`` is earlier than rows already seen; the deduplicating upsert
makes re-reading harmless. Rows move with ``COPY ... TO STDOUT`` from RDS straight into
``COPY ... FROM STDIN`` on the warehouse, then one set-based upsert: no per-row Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg import sql

from sinks.avro_types import encounter_columns

__all__ = ["OVERLAP", "ReplicationReport", "ensure_replica_tables", "replicate", "replicate_encounters"]

OVERLAP = timedelta(seconds=30)


@dataclass(frozen=True)
class ReplicationReport:
    rows_read: int
    rows_written: int
    cursor: datetime | None


def _names() -> list[str]:
    return [c.name for c in encounter_columns()] + ["updated_at"]


def ensure_replica_tables(conn: psycopg.Connection, schema: str = "rds") -> None:
    """Create ``<schema>.encounters`` and ``<schema>.replication_state`` (idempotent)."""
    defs = sql.SQL(", ").join(
        sql.SQL("{} {}{}").format(sql.Identifier(c.name), sql.SQL(c.sql_type),
                                  sql.SQL("" if c.nullable else " not null"))
        for c in encounter_columns())
    with conn.transaction():
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("create table if not exists {} ({}, updated_at timestamptz not null, "
                             "primary key (record_id))").format(sql.Identifier(schema, "encounters"), defs))
        conn.execute(sql.SQL("create table if not exists {} (stream text primary key, "
                             "cursor_value timestamptz not null, synced_at timestamptz not null default now())")
                     .format(sql.Identifier(schema, "replication_state")))


def replicate(source: psycopg.Connection, warehouse: psycopg.Connection, *, source_table: str = "encounters",
              source_schema: str | None = None, target_schema: str = "rds") -> ReplicationReport:
    """Copy rows changed since the saved cursor; newest ``updated_at`` wins per ``record_id``.

    ``source_schema`` None reads ``source_table`` through the source connection's
    search_path. Called by the ``rds_to_redshift_sync`` DAG (local mode) and the demo.
    """
    ensure_replica_tables(warehouse, target_schema)
    qualified = f"{source_schema}.{source_table}" if source_schema else source_table
    if source.execute("select to_regclass(%s)", [qualified]).fetchone()[0] is None:
        # The Postgres sink creates the table with its first write: nothing to copy yet.
        return ReplicationReport(0, 0, None)
    names = _names()
    cols = sql.SQL(", ").join(map(sql.Identifier, names))
    source_ident = sql.Identifier(source_schema, source_table) if source_schema else sql.Identifier(source_table)
    target = sql.Identifier(target_schema, "encounters")
    state = sql.Identifier(target_schema, "replication_state")
    stream = f"{source_schema}.{source_table}" if source_schema else source_table
    sets = sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(sql.Identifier(n))
                              for n in names if n != "record_id")
    with warehouse.transaction(), warehouse.cursor() as dst:
        # Lock the stream's state row: two syncs of one stream never interleave.
        dst.execute(sql.SQL("select cursor_value from {} where stream = %s for update").format(state), (stream,))
        row = dst.fetchone()
        saved = row[0] if row else None
        where = (sql.SQL("where updated_at > {}").format(sql.Literal(saved - OVERLAP)) if saved
                 else sql.SQL(""))
        dst.execute(sql.SQL("create temp table _daas_replica ({}) on commit drop").format(
            sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.sql_type))
                               for c in encounter_columns())
            + sql.SQL(", updated_at timestamptz not null")))
        with (source.cursor() as src,
              src.copy(sql.SQL("copy (select {} from {} {}) to stdout").format(cols, source_ident, where)) as out,
              dst.copy(sql.SQL("copy _daas_replica ({}) from stdin").format(cols)) as into):
            for chunk in out:
                into.write(chunk)
        dst.execute("select count(*), max(updated_at) from _daas_replica")
        read, newest = dst.fetchone()  # type: ignore[misc]
        dst.execute(sql.SQL(
            "insert into {target} ({cols}) select distinct on (record_id) {cols} from _daas_replica "
            "order by record_id, updated_at desc on conflict (record_id) do update set {sets} "
            "where {target}.updated_at < excluded.updated_at").format(target=target, cols=cols, sets=sets))
        written = dst.rowcount
        cursor = max(d for d in (saved, newest) if d is not None) if (saved or newest) else None
        if cursor is not None:
            dst.execute(sql.SQL("insert into {} (stream, cursor_value) values (%s, %s) on conflict (stream) "
                                "do update set cursor_value = excluded.cursor_value, synced_at = now()").format(state),
                        (stream, cursor))
    return ReplicationReport(read, written, cursor)


def replicate_encounters(source: psycopg.Connection, warehouse: psycopg.Connection, *,
                         source_table: str = "encounters", target_schema: str = "rds") -> int:
    """Copy new and changed rows; return how many rows were read from the source."""
    return replicate(source, warehouse, source_table=source_table, target_schema=target_schema).rows_read
