"""Build a ready-to-run sink from settings: which sink, which topic, which group.

Shared by ``python -m sinks`` (the process the tests and containers run) and ``daas
sink`` (the CLI), so both start a sink the same way. The kinds and their topics:
``s3`` (lake topic), ``postgres`` (ops topic), ``alerts`` (surveillance alerts) and
``dead-letters`` (the dead-letter topic), the last two into RDS (``sinks.events``).
Default consumer groups are ``daas-<kind>-sink``; tuning overrides the sink's policy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from daas.errors import ConfigurationError
from daas.metrics import Telemetry, start_telemetry
from daas.settings import Settings
from sinks.base import Backoff, Budget, FlushPolicy, Sink, SinkRunner
from sinks.base.runner import RunStats
from sinks.events import DEFAULT_POLICY as EVENTS_POLICY
from sinks.events import AlertsSink, DeadLettersSink
from sinks.postgres import DEFAULT_POLICY as POSTGRES_POLICY
from sinks.postgres import PostgresSink
from sinks.s3_parquet import DEFAULT_POLICY as S3_POLICY
from sinks.s3_parquet import S3ParquetSink

__all__ = ["KINDS", "SinkOptions", "build_runner", "default_group", "run_sink"]

KINDS = ("s3", "postgres", "alerts", "dead-letters")


@dataclass(frozen=True)
class SinkOptions:
    """Tuning a deployment may change; None keeps the sink's default."""

    group_id: str | None = None
    max_records: int | None = None
    max_bytes: int | None = None
    record_time_interval_ms: int | None = None
    idle_seconds: float | None = None
    budget_bytes: int | None = None
    budget_records: int | None = None
    max_backoff: float = 30.0
    pg_schema: str = "public"
    pg_table: str = "encounters"
    session_timeout_ms: int | None = None


def default_group(kind: str) -> str:
    return f"daas-{kind}-sink"


def _policy(base: FlushPolicy, options: SinkOptions) -> FlushPolicy:
    changes = {name: getattr(options, name) for name in ("max_records", "max_bytes", "record_time_interval_ms",
                                                         "idle_seconds") if getattr(options, name) is not None}
    return replace(base, **changes)


def run_sink(settings: Settings, kind: str, options: SinkOptions | None = None, *,
             should_stop: Callable[[], bool], stop_when_idle: float | None = None) -> RunStats:
    """Run sink ``kind`` until ``should_stop()`` (or idle), with /metrics and /healthz when
    DAAS_METRICS_PORT is set; what ``daas sink`` and ``python -m sinks`` run."""
    telemetry = start_telemetry(f"{kind}-sink", settings.metrics_port, settings.metrics_host)
    try:
        runner = build_runner(settings, kind, options, telemetry=telemetry)
        return runner.run(should_stop=should_stop, stop_when_idle=stop_when_idle)
    finally:
        telemetry.close()


def build_runner(settings: Settings, kind: str, options: SinkOptions | None = None, *,
                 telemetry: Telemetry | None = None) -> SinkRunner:
    """The runner for sink ``kind`` ("s3" reads the lake topic, "postgres" the ops topic,
    "alerts" the surveillance alerts, "dead-letters" the dead-letter topic)."""
    options = options or SinkOptions()
    sink: Sink
    if kind == "s3":
        sink = S3ParquetSink(settings, policy=_policy(S3_POLICY, options))
        topic = settings.topics.clean_lake
    elif kind == "postgres":
        sink = PostgresSink(settings, schema=options.pg_schema, table=options.pg_table,
                            policy=_policy(POSTGRES_POLICY, options))
        topic = settings.topics.clean_ops
    elif kind == "alerts":
        sink = AlertsSink(settings, schema=options.pg_schema, policy=_policy(EVENTS_POLICY, options))
        topic = settings.topics.surveillance_alerts
    elif kind == "dead-letters":
        sink = DeadLettersSink(settings, schema=options.pg_schema, policy=_policy(EVENTS_POLICY, options))
        topic = settings.topics.dlq
    else:
        raise ConfigurationError(f"unknown sink {kind!r}; the sinks are {', '.join(KINDS)}")
    budget_defaults = Budget()
    budget = Budget(max_bytes=options.budget_bytes or budget_defaults.max_bytes,
                    max_records=options.budget_records or budget_defaults.max_records)
    consumer = {"session.timeout.ms": options.session_timeout_ms} if options.session_timeout_ms else {}
    return SinkRunner(settings, sink, topic=topic, group_id=options.group_id or default_group(kind), budget=budget,
                      backoff=lambda: Backoff(maximum=options.max_backoff), consumer_config=consumer,
                      telemetry=telemetry)
