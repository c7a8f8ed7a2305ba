"""Stand-in for Airbyte, locally: the RDS ops tables → the warehouse's ``<rds>`` schema.

On AWS an Airbyte connection (Postgres source, Redshift destination) does this sync;
Airbyte cannot run in the local stack, so this module reproduces the connection's
semantics and nothing more, for each stream (``streams()``: ``encounters`` from the
Postgres sink, ``surveillance_alerts`` and ``dead_letters`` from the events sinks —
the same list as the Airbyte connection in ``terraform/modules/airbyte``):

- incremental, cursor on ``updated_at`` (the sinks move it on every change);
- "append + deduped" on the table's primary key (``record_id`` for encounters): the
  final table holds one row per key, the one with the newest cursor value;
- the cursor is kept per stream in the warehouse (``<rds>.replication_state``) and
  saved in the same transaction as the rows, so a crash never skips or half-applies
  a sync;
- like Airbyte's incremental mode without CDC, hard deletes are not propagated.

The cursor is re-read with an overlap (``OVERLAP``) because a transaction can commit a
row whose ``updated_at`` is earlier than rows already seen; the deduplicating upsert
makes re-reading harmless. Rows move with ``COPY ... TO STDOUT`` from RDS straight into
``COPY ... FROM STDIN`` on the warehouse, then one set-based upsert: no per-row Python.
A stream whose source table does not exist yet (its sink has not written) is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
from psycopg import sql

from schemas.columns import encounter_columns
from sinks.event_tables import ALERTS, DEAD_LETTERS, UPDATED_AT, OpsTable

__all__ = ["OVERLAP", "ReplicationReport", "SyncReport", "ensure_replica_tables", "replicate", "replicate_all",
           "replicate_encounters", "streams"]

OVERLAP = timedelta(seconds=30)


@dataclass(frozen=True)
class ReplicationReport:
    rows_read: int
    rows_written: int
    cursor: datetime | None


@dataclass(frozen=True)
class SyncReport:
    """One sync of every stream: each stream's report, and their totals."""

    streams: dict[str, ReplicationReport] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return sum(r.rows_read for r in self.streams.values())

    @property
    def rows_written(self) -> int:
        return sum(r.rows_written for r in self.streams.values())

    @property
    def cursor(self) -> datetime | None:
        """The newest cursor of any stream."""
        return max((r.cursor for r in self.streams.values() if r.cursor is not None), default=None)


def _encounters(table: str = "encounters") -> OpsTable:
    return OpsTable(table, tuple(encounter_columns()), ("record_id",))


def streams(encounters_table: str = "encounters") -> list[tuple[str, OpsTable]]:
    """(replica name, source table) of each stream, in order: encounters (whatever the
    source table's name, its replica is ``encounters``), then the events sinks' tables."""
    return [("encounters", _encounters(encounters_table)), (ALERTS.name, ALERTS), (DEAD_LETTERS.name, DEAD_LETTERS)]


def ensure_replica_tables(conn: psycopg.Connection, schema: str = "rds") -> None:
    """Create ``<schema>.encounters``, ``surveillance_alerts``, ``dead_letters`` and
    ``replication_state`` (idempotent)."""
    with conn.transaction():
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        for replica, table in streams():
            # The replica's updated_at is the source's, copied.
            conn.execute(table.create(schema, name=replica, cursor_default=False))
        conn.execute(sql.SQL("create table if not exists {} (stream text primary key, "
                             "cursor_value timestamptz not null, synced_at timestamptz not null default now())")
                     .format(sql.Identifier(schema, "replication_state")))


def replicate(source: psycopg.Connection, warehouse: psycopg.Connection, *, source_table: str = "encounters",
              source_schema: str | None = None, target_schema: str = "rds") -> ReplicationReport:
    """Copy encounters changed since the saved cursor; newest ``updated_at`` wins per ``record_id``.

    ``source_schema`` None reads ``source_table`` through the source connection's
    search_path. The replica is ``<target_schema>.encounters`` whatever the source's name.
    """
    ensure_replica_tables(warehouse, target_schema)
    return _replicate_stream(source, warehouse, _encounters(source_table), target_name="encounters",
                             source_schema=source_schema, target_schema=target_schema)


def replicate_all(source: psycopg.Connection, warehouse: psycopg.Connection, *,
                  encounters_table: str = "encounters", source_schema: str | None = None,
                  target_schema: str = "rds") -> SyncReport:
    """One sync of every stream (``streams``), each in its own transaction with its own
    cursor. Called by ``warehouse.jobs.replicate_rds`` (the ``rds_to_redshift_sync`` DAG
    in local mode, ``daas warehouse replicate``, the demo)."""
    ensure_replica_tables(warehouse, target_schema)
    found = {}
    for replica, table in streams(encounters_table):
        found[replica] = _replicate_stream(source, warehouse, table, target_name=replica,
                                           source_schema=source_schema, target_schema=target_schema)
    return SyncReport(found)


def _replicate_stream(source: psycopg.Connection, warehouse: psycopg.Connection, table: OpsTable, *,
                      target_name: str, source_schema: str | None, target_schema: str) -> ReplicationReport:
    qualified = f"{source_schema}.{table.name}" if source_schema else table.name
    if source.execute("select to_regclass(%s)", [qualified]).fetchone()[0] is None:
        # A sink creates its table with its first write: nothing to copy yet.
        return ReplicationReport(0, 0, None)
    names = [*table.names, UPDATED_AT]
    cols = sql.SQL(", ").join(map(sql.Identifier, names))
    key = sql.SQL(", ").join(map(sql.Identifier, table.key))
    source_ident = sql.Identifier(source_schema, table.name) if source_schema else sql.Identifier(table.name)
    target = sql.Identifier(target_schema, target_name)
    state = sql.Identifier(target_schema, "replication_state")
    sets = sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(sql.Identifier(n))
                              for n in names if n not in table.key)
    with warehouse.transaction(), warehouse.cursor() as dst:
        # Lock the stream's state row: two syncs of one stream never interleave.
        dst.execute(sql.SQL("select cursor_value from {} where stream = %s for update").format(state), (qualified,))
        row = dst.fetchone()
        saved = row[0] if row else None
        where = (sql.SQL("where {} > {}").format(sql.Identifier(UPDATED_AT), sql.Literal(saved - OVERLAP)) if saved
                 else sql.SQL(""))
        dst.execute(sql.SQL("create temp table _daas_replica ({}) on commit drop").format(
            sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.sql_type))
                               for c in table.columns)
            + sql.SQL(", {} timestamptz not null").format(sql.Identifier(UPDATED_AT))))
        with (source.cursor() as src,
              src.copy(sql.SQL("copy (select {} from {} {}) to stdout").format(cols, source_ident, where)) as out,
              dst.copy(sql.SQL("copy _daas_replica ({}) from stdin").format(cols)) as into):
            for chunk in out:
                into.write(chunk)
        dst.execute(sql.SQL("select count(*), max({}) from _daas_replica").format(sql.Identifier(UPDATED_AT)))
        read, newest = dst.fetchone()  # type: ignore[misc]
        dst.execute(sql.SQL(
            "insert into {target} ({cols}) select distinct on ({key}) {cols} from _daas_replica "
            "order by {key}, {updated_at} desc on conflict ({key}) do update set {sets} "
            "where {target}.{updated_at} < excluded.{updated_at}").format(
                target=target, cols=cols, key=key, sets=sets, updated_at=sql.Identifier(UPDATED_AT)))
        written = dst.rowcount
        cursor = max(d for d in (saved, newest) if d is not None) if (saved or newest) else None
        if cursor is not None:
            dst.execute(sql.SQL("insert into {} (stream, cursor_value) values (%s, %s) on conflict (stream) "
                                "do update set cursor_value = excluded.cursor_value, synced_at = now()").format(state),
                        (qualified, cursor))
    return ReplicationReport(read, written, cursor)


def replicate_encounters(source: psycopg.Connection, warehouse: psycopg.Connection, *,
                         source_table: str = "encounters", target_schema: str = "rds") -> int:
    """Copy new and changed rows; return how many rows were read from the source."""
    return replicate(source, warehouse, source_table=source_table, target_schema=target_schema).rows_read
