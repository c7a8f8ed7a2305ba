"""The events sinks' tables in RDS: their columns and keys, declared once.

Written by the events sinks (``sinks.events``) and replicated to the warehouse by the
local replicator (``warehouse.replicator``, which builds its replicas from these
definitions) or by Airbyte (``terraform/modules/airbyte`` lists the same keys). Free
of Kafka imports, so the Airflow environment (which runs the replicator and has no
Kafka client) can read them.

Each table ends in ``updated_at``: the cursor the incremental sync advances on; the
sinks move it only when a row really changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from schemas.columns import Column

__all__ = ["ALERTS", "DEAD_LETTERS", "UPDATED_AT", "OpsTable"]

UPDATED_AT = "updated_at"


@dataclass(frozen=True)
class OpsTable:
    """An ops table the warehouse replicates: its name, its columns in order (without
    ``updated_at``) and its primary key."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def create(self, schema: str, *, name: str | None = None, cursor_default: bool = True) -> sql.Composed:
        """``create table if not exists`` for ``schema.name`` (default: this table's name); the
        sinks' tables stamp ``updated_at`` themselves (``cursor_default``), replicas copy it."""
        defs = sql.SQL(", ").join(
            sql.SQL("{} {}{}").format(sql.Identifier(c.name), sql.SQL(c.sql_type),
                                      sql.SQL("" if c.nullable else " not null"))
            for c in self.columns)
        return sql.SQL("create table if not exists {} ({}, {} timestamptz not null{}, primary key ({}))").format(
            sql.Identifier(schema, name or self.name), defs, sql.Identifier(UPDATED_AT),
            sql.SQL(" default clock_timestamp()" if cursor_default else ""),
            sql.SQL(", ").join(map(sql.Identifier, self.key)))


def _columns(*spec: str) -> tuple[Column, ...]:
    """``"name type"`` or ``"name type?"`` (nullable), type an Avro name (``schemas.columns``)."""
    out = []
    for item in spec:
        name, kind = item.split()
        out.append(Column(name, kind.rstrip("?"), kind.endswith("?")))
    return tuple(out)


# One row per alert identity (district, disease, ISO week, level): the alert as first raised.
ALERTS = OpsTable("surveillance_alerts", _columns(
    "alert_id string", "country_code string", "district string", "diagnosis_group string", "epi_week string",
    "level string", "method string", "cases int", "incidence_per_100k double?", "threshold double",
    "baseline_weeks int", "raised_at timestamp-millis", "source_topic string", "source_partition int",
    "source_offset long"), ("alert_id",))

# One row per dead letter, keyed by where it is on the dead-letter topic. No key, value or
# reason message: they may hold PII (``sinks.events`` says why).
DEAD_LETTERS = OpsTable("dead_letters", _columns(
    "dlq_topic string", "dlq_partition int", "dlq_offset long", "failed_at timestamp-millis", "reason string",
    "reason_codes string", "reasons string", "stage string", "stage_version string?", "source_topic string",
    "source_partition int", "source_offset long", "source_timestamp timestamp-millis?", "source_name string?",
    "truncated boolean", "original_size long?"), ("dlq_topic", "dlq_partition", "dlq_offset"))
