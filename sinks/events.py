"""Events sinks: surveillance alerts and dead-letter metadata into RDS (PostgreSQL).

Two small sinks on the one runner (``sinks.base``), one process per topic — ``daas
sink alerts`` and ``daas sink dead-letters`` — so the warehouse (and the report that
reads only the warehouse) sees outbreaks and data quality next to the encounters:

- :class:`AlertsSink` reads the compacted alerts topic, whose values are JSON
  (``Alert.as_dict()``), and upserts ``surveillance_alerts`` by the alert's identity
  (district, disease, ISO week, level). ``raised_at`` is the message's Kafka
  timestamp, and the earliest one wins: a replay, a re-sent alert, or the compacted
  topic read again from the start changes nothing.
- :class:`DeadLettersSink` reads only the ``dlq.*`` headers of the dead-letter topic
  and inserts one row per dead letter into ``dead_letters``, keyed by its own topic,
  partition and offset (a replay inserts nothing). It never decodes or stores the
  key or value bytes — they are the original record and may hold PII — nor the
  reasons' messages: the processors quote the offending value in them (a birth date
  that is after the encounter, whatever was typed into a sheet's sex column), so
  they can carry PII too. What it keeps is the reason codes with the fields they
  concern, the stage, the source coordinates and times, and the source
  (``simuhealth``/``gsheet``) when the source topic is a raw topic. The messages stay
  on the topic, for ``daas dlq list``, for its retention. A message without the
  pipeline's headers (not written by one of its stages) is skipped and logged, as
  ``daas dlq`` skips it; this sink never dead-letters, so it never writes to its
  own input.

Tables come from ``sinks.event_tables`` and end in ``updated_at``, moved only when a
row changes (the replicator's and Airbyte's cursor). Errors are typed as in the
Postgres sink: a DSN PostgreSQL refuses is a ``ConfigurationError``, an unavailable
server ``Retryable``, anything else a ``SinkError``. Each value is checked in Python
before the write, so PostgreSQL has nothing to refuse record by record: an alert that
is not a well-formed alert is rejected (and dead-lettered by the runner).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from daas.dead_letter import INVALID_VALUE, REQUIRED_MISSING, Reason, parse_headers
from daas.errors import DecodeError
from daas.settings import Settings
from sinks.base.batch import Batch, Record, Rejection
from sinks.base.contract import PartitionPlan, PartitionStart, Sink, ValueDecoder
from sinks.base.policy import FlushPolicy
from sinks.event_tables import ALERTS, DEAD_LETTERS, UPDATED_AT, OpsTable
from sinks.destinations.rds import RdsConnection
from stream_processors.surveillance.detection import Alert

__all__ = ["DEFAULT_POLICY", "AlertsSink", "DeadLettersSink", "decode_json_object"]

log = logging.getLogger(__name__)

# Few, small messages: write what a poll brought at once.
DEFAULT_POLICY = FlushPolicy(max_records=5000, max_bytes=16 * 2**20, record_time_interval_ms=None, idle_seconds=0.0)
_ALERT_FIELDS = tuple(f.name for f in fields(Alert))
_ALERT_TEXT = ("country_code", "district", "diagnosis_group", "epi_week", "level", "method")
_EPI_WEEK = re.compile(r"\d{4}W\d{2}")
_INT32 = 2**31 - 1


def decode_json_object(value: bytes | None) -> dict[str, Any]:
    """A JSON object's dict; ``{}`` for a tombstone (nothing to write); DecodeError otherwise."""
    if value is None:
        return {}
    try:
        data = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"not a JSON alert: {exc}") from exc
    if not isinstance(data, dict):
        raise DecodeError(f"not a JSON alert: a JSON {type(data).__name__}, not an object")
    return data


def _headers_only(value: bytes | None) -> dict[str, Any]:
    """The dead-letter sink's decoder: the bytes are the original record and are never read."""
    return {}


def _ms_to_time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class _EventsSink(Sink):
    """Connection, table and one set-based statement per write, shared by both sinks."""

    table: OpsTable

    def __init__(self, settings: Settings, *, schema: str = "public", policy: FlushPolicy | None = None,
                 statement_timeout_ms: int = 30_000, connect_timeout: int = 5) -> None:
        self.schema = schema
        self.policy = policy or DEFAULT_POLICY
        self._rds = RdsConnection(settings, writer=f"{self.name} ({schema}.{self.table.name})", schema=schema,
                                  prepare=self._create_table, statement_timeout_ms=statement_timeout_ms,
                                  connect_timeout=connect_timeout)
        self._identifier = sql.Identifier(schema, self.table.name)
        self._cols = sql.SQL(", ").join(map(sql.Identifier, self.table.names))
        self._stage = sql.SQL("create temp table _stage (like {} including defaults) on commit drop").format(
            self._identifier)
        self._copy = sql.SQL("copy _stage ({}) from stdin").format(self._cols)
        self._merge = self._merge_statement()

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table.name}"

    def _merge_statement(self) -> sql.Composed:
        raise NotImplementedError

    def _rows(self, batch: Batch) -> tuple[list[tuple[Any, ...]], list[Rejection]]:
        raise NotImplementedError

    def _create_table(self, conn: psycopg.Connection) -> None:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (self.qualified,))
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(self.schema)))
            conn.execute(self.table.create(self.schema))

    def prepare(self, start: PartitionStart) -> PartitionPlan:
        self._rds.get()  # create the table before the first write
        return PartitionPlan()

    def write(self, batch: Batch) -> list[Rejection]:
        conn = self._rds.get()  # before decoding: while PostgreSQL is away, a retry costs little
        rows, rejected = self._rows(batch)
        if not rows:
            return rejected
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(self._stage)
                with cur.copy(self._copy) as copy:
                    for row in rows:
                        copy.write_row(row)
                cur.execute(self._merge)
        except psycopg.Error as exc:
            raise self._rds.translate(exc, f"writing {len(rows)} rows") from exc
        return rejected

    def close(self) -> None:
        self._rds.close()


class AlertsSink(_EventsSink):
    """Outbreak alerts (JSON) → ``surveillance_alerts``, one row per alert identity."""

    name = "alerts-sink"
    table = ALERTS

    def value_decoder(self) -> ValueDecoder:
        return decode_json_object

    def _merge_statement(self) -> sql.Composed:
        updates = sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(sql.Identifier(n))
                                     for n in self.table.names if n not in self.table.key)
        # The alert as first raised: a later copy of it (a re-send, a replay) changes nothing.
        return sql.SQL(
            "insert into {table} ({cols}) select distinct on (alert_id) {cols} from _stage "
            "order by alert_id, raised_at, source_offset "
            "on conflict (alert_id) do update set {updates}, {updated_at} = clock_timestamp() "
            "where excluded.raised_at < {table}.raised_at"
        ).format(table=self._identifier, cols=self._cols, updates=updates, updated_at=sql.Identifier(UPDATED_AT))

    def _rows(self, batch: Batch) -> tuple[list[tuple[Any, ...]], list[Rejection]]:
        rows: list[tuple[Any, ...]] = []
        rejected: list[Rejection] = []
        for record in batch:
            if record.value is None:
                continue  # a tombstone on the compacted topic: the alert stays on record
            row = _alert_row(record)
            if isinstance(row, Reason):
                rejected.append((record, row))
            else:
                rows.append(row)
        return rows, rejected


def _alert_row(record: Record) -> tuple[Any, ...] | Reason:
    """The row of one alert message, or why it is not a well-formed alert."""
    data = record.data
    missing = [f for f in _ALERT_FIELDS if data.get(f) is None and f != "incidence_per_100k"]
    if missing:
        return Reason(REQUIRED_MISSING, f"an alert needs {', '.join(missing)}", missing[0])
    for name in _ALERT_TEXT:
        value = data[name]
        if not isinstance(value, str) or not value or "\x00" in value:
            return Reason(INVALID_VALUE, f"{name} must be non-empty text", name)
    if not _EPI_WEEK.fullmatch(data["epi_week"]):
        return Reason(INVALID_VALUE, "epi_week must be an ISO week like 2026W48", "epi_week")
    numbers: dict[str, Any] = {}
    for name, kind in (("cases", int), ("baseline_weeks", int), ("threshold", float), ("incidence_per_100k", float)):
        value = data.get(name)
        if value is None:
            numbers[name] = None
            continue
        ok = (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _INT32 if kind is int
              else isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value))
        if not ok:
            return Reason(INVALID_VALUE, f"{name} must be a {'whole number' if kind is int else 'finite number'}",
                          name)
        numbers[name] = kind(value)
    if record.timestamp_ms <= 0:
        return Reason(INVALID_VALUE, "the alert message has no Kafka timestamp (the time it was raised)")
    alert = Alert(**{**{f: data[f] for f in _ALERT_FIELDS if f in _ALERT_TEXT}, **numbers})
    return (alert.identity(), *(getattr(alert, f) for f in _ALERT_FIELDS),
            _ms_to_time(record.timestamp_ms), record.topic, record.partition, record.offset)


class DeadLettersSink(_EventsSink):
    """Dead-letter metadata (``dlq.*`` headers, never the bytes) → ``dead_letters``."""

    name = "dead-letters-sink"
    table = DEAD_LETTERS

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        topics = settings.topics
        self._source_names = {topics.raw_simuhealth: "simuhealth", topics.raw_gsheet: "gsheet"}

    def value_decoder(self) -> ValueDecoder:
        return _headers_only

    def _merge_statement(self) -> sql.Composed:
        key = sql.SQL(", ").join(map(sql.Identifier, self.table.key))
        return sql.SQL("insert into {table} ({cols}) select distinct on ({key}) {cols} from _stage order by {key} "
                       "on conflict ({key}) do nothing").format(table=self._identifier, cols=self._cols, key=key)

    def _rows(self, batch: Batch) -> tuple[list[tuple[Any, ...]], list[Rejection]]:
        rows = []
        for record in batch:
            row = dead_letter_row(record, self._source_names.get)
            if row is None:
                log.warning("%s: %s[%d]@%d has no valid dlq.* headers (not written by a stage of this pipeline); "
                            "skipped", self.name, record.topic, record.partition, record.offset)
            else:
                rows.append(row)
        return rows, []


def dead_letter_row(record: Record, source_name: Callable[[str], str | None]) -> tuple[Any, ...] | None:
    """The ``dead_letters`` row of one message from its headers, or None when they are not a
    dead letter's (missing or malformed ``dlq.*`` headers). Reason messages are left out."""
    said = parse_headers(record.headers)
    if said is None:
        return None
    reasons = [{"code": r["code"], "field": r["field"]} for r in said.reasons]
    return (record.topic, record.partition, record.offset, _ms_to_time(said.failed_at_ms or record.timestamp_ms),
            said.reason, ",".join(r["code"] for r in reasons), json.dumps(reasons, separators=(",", ":")),
            said.stage, said.stage_version, said.source_topic, said.source_partition, said.source_offset,
            None if said.source_timestamp_ms is None else _ms_to_time(said.source_timestamp_ms),
            source_name(said.source_topic), said.truncated, said.original_size)
