"""Postgres (RDS) sink: batched upserts, newest source version wins.

Each write (one partition's polled records) runs in one transaction: COPY into a
temporary staging table, then ``INSERT … ON CONFLICT (record_id) DO UPDATE … WHERE``
the incoming ``source_version`` is newer. A replayed batch therefore changes nothing,
and ``updated_at`` moves only when a row really changed (Airbyte's incremental
cursor). The runner commits offsets after the transaction commits.

Failures are told apart by SQLSTATE: connection loss, shutdown, overload, statement
timeouts (a slow server), serialization failures and deadlocks are ``Retryable``
(the runner pauses and backs off); data and constraint errors reject single records,
isolated by splitting the batch inside savepoints so the rest lands in the same
transaction; anything else (a bug) stops the sink. Errors name the setting to fix,
as the S3 sink's do: a ``DAAS_RDS_DSN`` that does not parse fails at construction,
and a server that refuses it (password, user, database, host, TLS options, missing
privileges) raises ``ConfigurationError`` instead of being retried for ever; the
password never appears in a message. The table
comes from the Avro schema and evolves compatibly (``sinks.postgres_table``).
Run by ``python -m sinks postgres`` / ``daas sink postgres``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from daas.dead_letter import REJECTED_BY_POSTGRES, Reason
from daas.errors import ConfigurationError, Retryable, SinkError
from daas.settings import Settings
from schemas import CLEAN_ENCOUNTER, SchemaStore
from sinks.avro_types import LINEAGE_COLUMNS, columns
from sinks.base.batch import Batch, Record, Rejection
from sinks.base.contract import PartitionPlan, PartitionStart, Sink
from sinks.base.policy import FlushPolicy
from sinks.postgres_table import UPDATED_AT, TableSpec, ensure_table

__all__ = ["DEFAULT_POLICY", "PostgresSink", "classify", "describe_dsn"]

DEFAULT_POLICY = FlushPolicy(max_records=5000, max_bytes=16 * 2**20, record_time_interval_ms=None, idle_seconds=0.0)
# SQLSTATE classes: 08 connection, 40 rollback (serialization, deadlock), 53 resources,
# 55 object state (lock not available), 57 operator intervention (shutdown, statement
# timeout), 58 system error. 22 data and 23 integrity errors are the record's fault.
_RETRY_CLASSES = frozenset({"08", "40", "53", "55", "57", "58"})
_REJECT_CLASSES = frozenset({"22", "23"})
_COPY_COLUMN = re.compile(r"column (\w+)")
# What libpq says when the connection string itself is wrong (connection errors carry
# no SQLSTATE): retrying these cannot help, the setting must change.
_MISCONFIGURED = re.compile(r"password authentication failed|no password supplied|does not exist|"
                            r"no pg_hba\.conf entry|failed to resolve host|could not translate host name|"
                            r"invalid \w+ value|invalid connection option|certificate", re.IGNORECASE)
_INSUFFICIENT_PRIVILEGE = "42501"


def classify(exc: psycopg.Error) -> str:
    """``"retry"``, ``"reject"`` (the record's fault) or ``"fatal"`` for a psycopg error."""
    state = exc.sqlstate or ""
    connection_level = isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
    if state[:2] in _RETRY_CLASSES or (not state and connection_level):
        return "retry"
    if state[:2] in _REJECT_CLASSES or (not state and isinstance(exc, psycopg.DataError)):
        return "reject"
    return "fatal"


class PostgresSink(Sink):
    """Upserts clean encounters into ``schema.table`` (created from the Avro schema)."""

    name = "postgres-sink"
    logical_types = True

    def __init__(self, settings: Settings, *, table: str = "encounters", schema: str = "public",
                 store: SchemaStore | None = None, policy: FlushPolicy | None = None,
                 statement_timeout_ms: int = 30_000, connect_timeout: int = 5) -> None:
        self._dsn = settings.require("rds_dsn")
        self._where = describe_dsn(self._dsn)
        self._fields = columns((store or SchemaStore.default()).current(CLEAN_ENCOUNTER).raw)
        self.spec = TableSpec(schema, table, [*self._fields, *LINEAGE_COLUMNS])
        self.policy = policy or DEFAULT_POLICY
        self._statement_timeout_ms = statement_timeout_ms
        self._connect_timeout = connect_timeout
        self._conn: psycopg.Connection | None = None
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

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=self._connect_timeout,
                                       options=f"-c statement_timeout={self._statement_timeout_ms}")
            except psycopg.Error as exc:
                raise self._translate(exc, "connecting") from exc
            try:
                ensure_table(conn, self.spec)
            except psycopg.Error as exc:
                conn.close()
                raise self._translate(exc, f"preparing {self.spec.qualified}") from exc
            self._conn = conn
        return self._conn

    def _translate(self, exc: psycopg.Error, doing: str) -> Exception:
        if doing == "connecting" and _MISCONFIGURED.search(str(exc)):
            return ConfigurationError(f"PostgreSQL at {self._where} refused the connection DAAS_RDS_DSN describes: "
                                      f"{_first_line(exc)}; fix the user, password, database, host or TLS options "
                                      "in DAAS_RDS_DSN")
        if exc.sqlstate == _INSUFFICIENT_PRIVILEGE:
            return ConfigurationError(f"the DAAS_RDS_DSN user at {self._where} may not {doing}: {_first_line(exc)}; "
                                      f"grant it USAGE and CREATE on schema {self.spec.schema!r} (or create the "
                                      "table as its owner)")
        if classify(exc) == "retry":
            if self._conn is not None and (self._conn.broken or isinstance(exc, psycopg.OperationalError)):
                self._conn.close()
            return Retryable(f"PostgreSQL at {self._where} (DAAS_RDS_DSN) unavailable {doing} "
                             f"({exc.sqlstate or 'connection'}): {_first_line(exc)}")
        return SinkError(f"PostgreSQL sink cannot write {self.spec.qualified} ({doing}): "
                         f"{exc.sqlstate or type(exc).__name__}: {exc}".strip())

    def prepare(self, start: PartitionStart) -> PartitionPlan:
        self._connection()  # create or evolve the table before the first write
        return PartitionPlan()

    def write(self, batch: Batch | list[Record]) -> list[Rejection]:
        conn = self._connection()  # before decoding: while PostgreSQL is away, a retry costs little
        records = batch.records() if isinstance(batch, Batch) else list(batch)
        if not records:
            return []
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(self._stage)
                return self._upsert_isolating(conn, cur, records)
        except psycopg.Error as exc:
            raise self._translate(exc, f"writing {len(records)} records") from exc

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
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def describe_dsn(dsn: str) -> str:
    """``user@host:port/dbname`` of a connection string, never its password;
    ConfigurationError naming DAAS_RDS_DSN when it does not parse."""
    try:
        info = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        # libpq's message quotes pieces of the string, which may hold the password.
        raise ConfigurationError("DAAS_RDS_DSN is not a PostgreSQL connection string; expected "
                                 "postgresql://user:password@host:5432/dbname or 'host=... dbname=... user=...'") from exc
    host, port = info.get("host") or "localhost", info.get("port") or "5432"
    return f"{info.get('user') or '(default user)'}@{host}:{port}/{info.get('dbname') or '(default database)'}"


def _first_line(exc: psycopg.Error) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _reason(exc: psycopg.Error) -> Reason:
    diag = exc.diag
    field = diag.column_name
    if field is None and diag.context:
        found = _COPY_COLUMN.search(diag.context)
        field = found.group(1) if found else None
    message = f"{exc.sqlstate}: {diag.message_primary or exc}"
    return Reason(REJECTED_BY_POSTGRES, message, field)
