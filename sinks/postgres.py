"""Postgres (RDS) sink: batched upserts, newest source version wins.

Each batch is COPYed into a temporary staging table and merged with
``INSERT … ON CONFLICT (record_id) DO UPDATE … WHERE`` the incoming source version is
newer, in one transaction; a replayed batch therefore changes nothing, and
``updated_at`` moves only when a row really changed (Airbyte's incremental cursor).
A row PostgreSQL rejects is isolated by splitting the batch and dead-lettered; the
rest lands. The table is created from the Avro schema.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from daas.dead_letter import Reason
from daas.errors import Retryable, SinkError
from daas.settings import Settings
from sinks.avro_types import LINEAGE_COLUMNS, encounter_columns
from sinks.base import Batch, Record, Sink

__all__ = ["PostgresSink"]


class PostgresSink(Sink):
    name = "postgres-sink"

    def __init__(self, settings: Settings, *, table: str = "encounters", schema: str = "public") -> None:
        self._dsn = settings.require("rds_dsn")
        self._table = sql.Identifier(schema, table)
        self._schema, self._name = schema, table
        self._columns = encounter_columns()
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(self._dsn, connect_timeout=5)
            except psycopg.OperationalError as exc:
                raise Retryable(f"PostgreSQL unavailable: {exc}") from exc
            self._ensure_table(self._conn)
        return self._conn

    def _ensure_table(self, conn: psycopg.Connection) -> None:
        defs = [sql.SQL("{} {}{}").format(sql.Identifier(c.name), sql.SQL(c.sql_type),
                                          sql.SQL("" if c.nullable else " not null"))
                for c in self._columns]
        with conn.transaction():
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(self._schema)))
            conn.execute(sql.SQL(
                "create table if not exists {} ({}, updated_at timestamptz not null default clock_timestamp(), "
                "primary key (record_id))").format(self._table, sql.SQL(", ").join(defs)))
            conn.execute(sql.SQL("create index if not exists {} on {} (updated_at)").format(
                sql.Identifier(f"{self._name}_updated_at_idx"), self._table))

    def _row(self, record: Record) -> tuple[Any, ...]:
        data = record.data
        lineage = (record.topic, record.partition, record.offset)
        return tuple(data[c.name] for c in self._columns[: -len(LINEAGE_COLUMNS)]) + lineage

    def _upsert(self, conn: psycopg.Connection, records: list[Record]) -> None:
        names = [sql.Identifier(c.name) for c in self._columns]
        col_list = sql.SQL(", ").join(names)
        updates = sql.SQL(", ").join(
            sql.SQL("{} = excluded.{}").format(n, n) for n in names if n.as_string(conn) != '"record_id"')
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(sql.SQL("create temp table _stage (like {} including defaults) on commit drop").format(self._table))
            with cur.copy(sql.SQL("copy _stage ({}) from stdin").format(col_list)) as copy:
                for record in records:
                    copy.write_row(self._row(record))
            cur.execute(sql.SQL(
                "insert into {table} ({cols}) "
                "select distinct on (record_id) {cols} from _stage order by record_id, source_version desc, source_offset desc "
                "on conflict (record_id) do update set {updates}, updated_at = clock_timestamp() "
                "where {table}.source_version < excluded.source_version"
            ).format(table=self._table, cols=col_list, updates=updates))

    def write(self, batch: Batch) -> list[tuple[Record, Reason]]:
        conn = self._connection()
        try:
            return self._write_isolating(conn, list(batch))
        except psycopg.OperationalError as exc:
            conn.close()
            raise Retryable(f"PostgreSQL connection lost: {exc}") from exc

    def _write_isolating(self, conn: psycopg.Connection, records: list[Record]) -> list[tuple[Record, Reason]]:
        try:
            self._upsert(conn, records)
            return []
        except (psycopg.DataError, psycopg.IntegrityError) as exc:
            if len(records) == 1:
                return [(records[0], Reason("rejected_by_postgres", f"{type(exc).__name__}: {exc}".strip()))]
            mid = len(records) // 2
            return self._write_isolating(conn, records[:mid]) + self._write_isolating(conn, records[mid:])
        except psycopg.ProgrammingError as exc:
            raise SinkError(f"PostgreSQL sink cannot write {self._schema}.{self._name}: {exc}") from exc

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
