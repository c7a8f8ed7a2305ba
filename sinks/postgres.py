"""Postgres (RDS) sink: batched upserts, newest source version wins.

Each write (one partition's polled records) runs in one transaction: COPY into a
temporary staging table, then ``INSERT … ON CONFLICT (record_id) DO UPDATE … WHERE``
the incoming ``source_version`` is newer. A replayed batch therefore changes nothing,
and ``updated_at`` moves only when a row really changed (Airbyte's incremental
cursor). The runner commits offsets after the transaction commits.

Failures are told apart by SQLSTATE (``sinks.destinations.rds``: retried, refused
configuration, or a bug); data and constraint errors reject single records,
isolated by splitting the batch inside savepoints so the rest lands in the same
transaction. A ``DAAS_RDS_DSN`` that does not parse fails at construction. The table
comes from the Avro schema and evolves compatibly (``sinks.postgres_table``).
Run by ``python -m sinks postgres`` / ``daas sink postgres``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from daas.dead_letter import REJECTED_BY_POSTGRES, Reason
from daas.settings import Settings
from schemas import CLEAN_ENCOUNTER, SchemaStore
from schemas.columns import LINEAGE_COLUMNS, columns
from sinks.base.batch import Batch, Record, Rejection
from sinks.base.contract import PartitionPlan, PartitionStart, Sink
from sinks.base.policy import FlushPolicy
from sinks.destinations.rds import RdsConnection, classify
from sinks.postgres_table import UPDATED_AT, TableSpec, ensure_table

__all__ = ["DEFAULT_POLICY", "PostgresSink"]

DEFAULT_POLICY = FlushPolicy(max_records=5000, max_bytes=16 * 2**20, record_time_interval_ms=None, idle_seconds=0.0)
_COPY_COLUMN = re.compile(r"column (\w+)")


class PostgresSink(Sink):
    """Upserts clean encounters into ``schema.table`` (created from the Avro schema)."""

    name = "postgres-sink"
    logical_types = True

    def __init__(self, settings: Settings, *, table: str = "encounters", schema: str = "public",
                 store: SchemaStore | None = None, policy: FlushPolicy | None = None,
                 statement_timeout_ms: int = 30_000, connect_timeout: int = 5) -> None:
        self._fields = columns((store or SchemaStore.default()).current(CLEAN_ENCOUNTER).raw)
        self.spec = TableSpec(schema, table, [*self._fields, *LINEAGE_COLUMNS])
        self.policy = policy or DEFAULT_POLICY
        self._rds = RdsConnection(settings, writer=f"PostgreSQL sink ({self.spec.qualified})", schema=schema,
                                  prepare=lambda conn: ensure_table(conn, self.spec),
                                  statement_timeout_ms=statement_timeout_ms, connect_timeout=connect_timeout)
        names = [sql.Identifier(c.name) for c in self.spec.columns]
        cols = sql.SQL(", ").join(names)
        updates = sql.SQL(", ").join(sql.SQL("{} = excluded.{}").format(n, n)
                                     for c, n in zip(self.spec.columns, names, strict=True) if c.name != "record_id")
        self._stage = sql.SQL("create temp table _stage (like {} including defaults) on commit drop").format(
            self.spec.identifier)
        self._copy = sql.SQL("copy _stage ({}) from stdin").format(cols)
        self._merge = sql.SQL(
            "insert into {table} ({cols}) "
            "select distinct on (record_id) {cols} from _stage "
            "order by record_id, source_version desc, source_offset desc "
            "on conflict (record_id) do update set {updates}, {updated_at} = clock_timestamp() "
            "where {table}.source_version < excluded.source_version"
        ).format(table=self.spec.identifier, cols=cols, updates=updates, updated_at=sql.Identifier(UPDATED_AT))

    def prepare(self, start: PartitionStart) -> PartitionPlan:
        self._rds.get()  # create or evolve the table before the first write
        return PartitionPlan()

    def write(self, batch: Batch | list[Record]) -> list[Rejection]:
        conn = self._rds.get()  # before decoding: while PostgreSQL is away, a retry costs little
        records = batch.records() if isinstance(batch, Batch) else list(batch)
        if not records:
            return []
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(self._stage)
                return self._upsert_isolating(conn, cur, records)
        except psycopg.Error as exc:
            raise self._rds.translate(exc, f"writing {len(records)} records") from exc

    def _row(self, record: Record) -> tuple[Any, ...]:
        data = record.data
        return (*(data.get(c.name) for c in self._fields), record.topic, record.partition, record.offset)

    def _upsert_isolating(self, conn: psycopg.Connection, cur: psycopg.Cursor[Any],
                          records: Sequence[Record]) -> list[Rejection]:
        try:
            with conn.transaction():  # a savepoint inside the write's transaction
                cur.execute("truncate _stage")
                with cur.copy(self._copy) as copy:
                    for record in records:
                        copy.write_row(self._row(record))
                cur.execute(self._merge)
            return []
        except psycopg.Error as exc:
            if classify(exc) != "reject":
                raise
            if len(records) == 1:
                return [(records[0], _reason(exc))]
            mid = len(records) // 2
            return (self._upsert_isolating(conn, cur, records[:mid])
                    + self._upsert_isolating(conn, cur, records[mid:]))

    def close(self) -> None:
        self._rds.close()


def _reason(exc: psycopg.Error) -> Reason:
    diag = exc.diag
    field = diag.column_name
    if field is None and diag.context:
        found = _COPY_COLUMN.search(diag.context)
        field = found.group(1) if found else None
    message = f"{exc.sqlstate}: {diag.message_primary or exc}"
    return Reason(REJECTED_BY_POSTGRES, message, field)
