"""`daas status`: how the running pipeline is doing, from Kafka and the warehouse alone.

It needs no agent in the services: lag and records/s come from each consumer
group's committed offsets (sampled twice; records/s is how fast a group's commits
advance), topic sizes from the watermarks, dead letters from the dead-letter topic's
headers, and the batch side from the warehouse's load-audit and replication tables.
The streaming demo shows the same view live.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from rich.console import Group
from rich.table import Table

from daas.kafka import create_admin, create_consumer, pipeline_topics
from daas.settings import Settings

__all__ = ["Stage", "Status", "collect_status", "render_status", "stages"]


@dataclass(frozen=True)
class Stage:
    """A consumer group of the pipeline and the topics it reads."""

    name: str
    group: str
    topics: tuple[str, ...]


def stages(settings: Settings, *, s3_group: str = "daas-s3-sink", postgres_group: str = "daas-postgres-sink",
           alerts_group: str = "daas-alerts-sink", dead_letters_group: str = "daas-dead-letters-sink") -> list[Stage]:
    from stream_processors.worker import processor_group

    t = settings.topics
    return [Stage("processor (simuhealth)", processor_group(settings, t.raw_simuhealth), (t.raw_simuhealth,)),
            Stage("processor (gsheet)", processor_group(settings, t.raw_gsheet), (t.raw_gsheet,)),
            Stage("surveillance", settings.surveillance_app_id, (t.surveillance_cases,)),
            Stage("s3 sink", s3_group, (t.clean_lake,)),
            Stage("postgres sink", postgres_group, (t.clean_ops,)),
            Stage("alerts sink", alerts_group, (t.surveillance_alerts,)),
            Stage("dead-letters sink", dead_letters_group, (t.dlq,))]


@dataclass
class PartitionLag:
    stage: str
    group: str
    topic: str
    partition: int
    committed: int | None
    end: int

    @property
    def lag(self) -> int:
        return self.end - (self.committed or 0)


@dataclass
class Status:
    taken_at: float
    lags: list[PartitionLag]
    records_per_s: dict[str, float | None]  # stage -> rate over the sampling interval
    topic_sizes: dict[str, int]
    dead_letters: dict[str, int]  # reason -> count
    warehouse: dict[str, Any] = field(default_factory=dict)

    def lag_of(self, stage: str) -> int:
        return sum(p.lag for p in self.lags if p.stage == stage)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["lags"] = [{**asdict(p), "lag": p.lag} for p in self.lags]
        data["lag_by_stage"] = {s: self.lag_of(s) for s in self.records_per_s}
        data["taken_at"] = datetime.fromtimestamp(self.taken_at, tz=UTC).isoformat()
        return data


def _committed(admin: Any, stage: Stage, ends: dict[tuple[str, int], int]) -> list[PartitionLag]:
    request = ConsumerGroupTopicPartitions(stage.group, [TopicPartition(t, p) for t, p in ends if t in stage.topics])
    future = admin.list_consumer_group_offsets([request], request_timeout=10)[stage.group]
    result = future.result(timeout=15)
    rows = []
    for tp in result.topic_partitions:
        offset = tp.offset if tp.offset >= 0 else None
        rows.append(PartitionLag(stage.name, stage.group, tp.topic, tp.partition, offset, ends[(tp.topic, tp.partition)]))
    return sorted(rows, key=lambda r: (r.topic, r.partition))


def _warehouse(settings: Settings) -> dict[str, Any]:
    """The last lake load and RDS replication, with row counts and age (empty if unreachable)."""
    import psycopg

    from warehouse.config import WarehouseConfig

    schemas = WarehouseConfig().schemas
    found: dict[str, Any] = {}
    try:
        with psycopg.connect(settings.require("warehouse_dsn"), connect_timeout=3, autocommit=True) as conn:
            def one(query: str) -> tuple | None:
                try:
                    return conn.execute(query).fetchone()
                except psycopg.errors.UndefinedTable:
                    return None

            load = one(f'select max(loaded_at), count(*), coalesce(sum(rows_merged), 0) from "{schemas.lake}".load_audit')
            lake_rows = one(f'select count(*) from "{schemas.lake}".encounters')
            sync = one(f'select max(synced_at) from "{schemas.rds}".replication_state')
            rds_rows = one(f'select count(*) from "{schemas.rds}".encounters')
    except psycopg.Error as exc:
        return {"error": f"warehouse unreachable: {exc}".splitlines()[0]}
    now = datetime.now(tz=UTC)

    def age(when: datetime | None) -> float | None:
        return None if when is None else round((now - when).total_seconds(), 1)

    found["last_load_at"] = load[0].isoformat() if load and load[0] else None
    found["last_load_age_s"] = age(load[0]) if load else None
    found["manifests_loaded"] = load[1] if load else 0
    found["lake_rows"] = lake_rows[0] if lake_rows else 0
    found["last_replication_at"] = sync[0].isoformat() if sync and sync[0] else None
    found["last_replication_age_s"] = age(sync[0]) if sync else None
    found["rds_rows"] = rds_rows[0] if rds_rows else 0
    return found


def collect_status(settings: Settings, *, interval: float = 2.0, previous: Status | None = None,
                   groups: list[Stage] | None = None, dead_letters: bool = True) -> Status:
    """The pipeline's state now; records/s against ``previous``, or against a sample ``interval`` ago."""
    groups = groups or stages(settings)
    admin = create_admin(settings)  # kept referenced while its futures resolve
    consumer = create_consumer(settings, "daas-status")
    try:
        names = [s.name for s in pipeline_topics(settings.topics, settings.kafka_partitions)]
        metadata = consumer.list_topics(timeout=10).topics
        ends: dict[tuple[str, int], int] = {}
        sizes: dict[str, int] = {}
        for topic in names:
            if topic not in metadata:
                continue
            for p in metadata[topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                ends[(topic, p)] = high
                sizes[topic] = sizes.get(topic, 0) + high - low

        def sample() -> list[PartitionLag]:
            rows: list[PartitionLag] = []
            for stage in groups:
                try:
                    rows += _committed(admin, stage, ends)
                except KafkaException:
                    continue  # a group that never committed
            return rows

        if previous is None and interval > 0:
            first, began = sample(), time.monotonic()
            time.sleep(interval)
            lags, elapsed = sample(), time.monotonic() - began
        else:
            first, lags = (previous.lags if previous else []), sample()
            elapsed = time.time() - previous.taken_at if previous else 0.0
        before = {(r.stage, r.topic, r.partition): r.committed or 0 for r in first}
        rates: dict[str, float | None] = {}
        for stage in groups:
            moved = sum((r.committed or 0) - before.get((r.stage, r.topic, r.partition), r.committed or 0)
                        for r in lags if r.stage == stage.name)
            rates[stage.name] = round(moved / elapsed, 1) if elapsed > 0 else None
    finally:
        consumer.close()
    reasons: Counter[str] = Counter()
    if dead_letters:
        from daas.dlq import read_dead_letters

        reasons.update(e.reason for e in read_dead_letters(settings))
    return Status(time.time(), lags, rates, sizes, dict(reasons.most_common()), _warehouse(settings))


def render_status(status: Status) -> Group:
    """The status as terminal tables."""
    overview = Table(title="stages", title_justify="left")
    for col in ("stage", "group", "records/s", "lag"):
        overview.add_column(col, justify="right" if col in ("records/s", "lag") else "left")
    seen = dict.fromkeys(p.stage for p in status.lags)
    for stage in {**seen, **dict.fromkeys(status.records_per_s)}:
        group = next((p.group for p in status.lags if p.stage == stage), "-")
        rate = status.records_per_s.get(stage)
        overview.add_row(stage, group, "-" if rate is None else f"{rate:,.0f}", f"{status.lag_of(stage):,}")
    lag = Table(title="lag per partition", title_justify="left")
    for col in ("group", "topic", "partition", "committed", "end", "lag"):
        lag.add_column(col, justify="left" if col in ("group", "topic") else "right")
    for p in status.lags:
        lag.add_row(p.group, p.topic, str(p.partition), "-" if p.committed is None else f"{p.committed:,}",
                    f"{p.end:,}", f"{p.lag:,}")
    sizes = Table(title="topics (records retained)", title_justify="left")
    sizes.add_column("topic")
    sizes.add_column("records", justify="right")
    for topic, n in status.topic_sizes.items():
        sizes.add_row(topic, f"{n:,}")
    dead = Table(title=f"dead letters: {sum(status.dead_letters.values()):,}", title_justify="left")
    dead.add_column("reason")
    dead.add_column("count", justify="right")
    for reason, n in status.dead_letters.items():
        dead.add_row(reason, f"{n:,}")
    wh = Table(title="warehouse", title_justify="left")
    wh.add_column("what")
    wh.add_column("value", justify="right")
    for key, value in status.warehouse.items():
        wh.add_row(key.replace("_", " "), "-" if value is None else str(value))
    return Group(overview, lag, sizes, dead, wh)
