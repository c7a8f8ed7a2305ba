"""`daas replay`: plans, refuses while the group runs, moves offsets — and a replayed
sink leaves the lake and the table exactly as they were."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from rich.console import Console

from daas.errors import ConfigurationError
from daas.kafka import create_consumer
from daas.replay import GroupActive, Target, apply_replay, plan_replay, replay_table
from sinks.base import FlushPolicy, SinkRunner
from sinks.postgres import PostgresSink
from sinks.s3_parquet import S3ParquetSink, s3_client
from tests.integration.sinks.conftest import PARTITIONS, SinkRun, make_run
from tests.integration.sinks.support import (
    clean_records,
    committed,
    encode,
    lake_snapshot,
    produce,
    wait_for,
)
from tests.support.endpoints import Endpoints


@pytest.fixture
def run(endpoints: Endpoints, unique_name: Callable[[str], str], tmp_path: Path) -> SinkRun:
    return make_run(endpoints, unique_name("replay"), tmp_path)


def commit(run: SinkRun, group: str, offsets: list[int]) -> None:
    from confluent_kafka import TopicPartition

    consumer = create_consumer(run.settings, group)
    try:
        consumer.commit(offsets=[TopicPartition(run.topics.clean_lake, p, o) for p, o in enumerate(offsets)],
                        asynchronous=False)
    finally:
        consumer.close()


def test_the_plan_changes_nothing_and_the_move_does_what_it_planned(run: SinkRun) -> None:
    topic, group = run.topics.clean_lake, f"{run.name}-g"
    produce(run.settings, topic, [(None, b"x")] * 30, partition=0)
    produce(run.settings, topic, [(None, b"z")] * 12, partition=1)
    time.sleep(0.05)
    middle = datetime.now(tz=UTC)
    time.sleep(0.05)
    produce(run.settings, topic, [(None, b"y")] * 10, partition=0)
    commit(run, group, [40, 12, 0])

    plan = plan_replay(run.settings, group_id=group, topic=topic, target=Target.beginning())
    assert [(m.partition, m.current, m.new) for m in plan.moves] == [(0, 40, 0), (1, 12, 0), (2, 0, 0)]
    console = Console(record=True, width=120)
    console.print(replay_table(plan))
    text = " ".join(console.export_text().split())
    assert "partition" in text and "current" in text and "52 records to read again" in text
    assert committed(run.settings, group, topic, PARTITIONS) == [40, 12, 0]  # a plan is a dry run

    by_time = plan_replay(run.settings, group_id=group, topic=topic, target=Target.at_time(middle))
    assert [m.new for m in by_time.moves] == [30, 12, 0]  # partitions with nothing newer go to their end
    apply_replay(run.settings, by_time)
    assert committed(run.settings, group, topic, PARTITIONS) == [30, 12, 0]

    clamped = plan_replay(run.settings, group_id=group, topic=topic, target=Target.at_offset(35))
    assert [(m.new, bool(m.note)) for m in clamped.moves] == [(35, False), (12, True), (0, True)]
    apply_replay(run.settings, plan_replay(run.settings, group_id=group, topic=topic, target=Target.beginning()))
    assert committed(run.settings, group, topic, PARTITIONS) == [0, 0, 0]


def test_a_group_with_active_members_is_refused(run: SinkRun) -> None:
    topic, group = run.topics.clean_lake, f"{run.name}-busy"
    produce(run.settings, topic, [(None, b"x")] * 5, partition=0)
    consumer = create_consumer(run.settings, group)
    consumer.subscribe([topic])
    try:
        wait_for("the member to join", lambda: bool(consumer.consume(10, timeout=0.5) is not None
                                                    and consumer.assignment()), 30)
        plan = plan_replay(run.settings, group_id=group, topic=topic, target=Target.beginning())
        assert len(plan.members) == 1
        with pytest.raises(GroupActive, match=rf"consumer group '{group}' has 1 active member.*stop them"):
            apply_replay(run.settings, plan)
    finally:
        consumer.close()
    with pytest.raises(ConfigurationError, match="does not exist"):
        plan_replay(run.settings, group_id=group, topic=f"{topic}-missing", target=Target.beginning())
    with pytest.raises(ConfigurationError, match="no time zone"):
        Target.at_time(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


def run_sinks(run: SinkRun) -> None:
    lake = S3ParquetSink(run.settings, policy=FlushPolicy(max_records=700, idle_seconds=1.0))
    ops = PostgresSink(run.settings, schema=run.pg_schema)
    runners = [SinkRunner(run.settings, lake, topic=run.topics.clean_lake, group_id=f"{run.name}-s3"),
               SinkRunner(run.settings, ops, topic=run.topics.clean_ops, group_id=f"{run.name}-pg")]
    threads = [threading.Thread(target=r.run, kwargs={"stop_when_idle": 3.0}) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)


def test_replaying_the_sinks_from_the_beginning_changes_nothing(run: SinkRun) -> None:
    records = clean_records(3000, seed=31)
    values = encode(records)
    # Two bursts with a pause: the first burst's last writes are cut by the idle timer,
    # a cut a replay that reads everything at once would not make by itself.
    stop = threading.Event()
    lake = S3ParquetSink(run.settings, policy=FlushPolicy(max_records=700, idle_seconds=1.0))
    runner = SinkRunner(run.settings, lake, topic=run.topics.clean_lake, group_id=f"{run.name}-s3")
    thread = threading.Thread(target=runner.run, kwargs={"should_stop": stop.is_set})
    thread.start()
    for topic in (run.topics.clean_lake, run.topics.clean_ops):
        produce(run.settings, topic, values[:1000])
    wait_for("the first burst to be written", lambda: runner.stats.written == 1000, 60)
    for topic in (run.topics.clean_lake, run.topics.clean_ops):
        produce(run.settings, topic, values[1000:])
    wait_for("the second burst to be written", lambda: runner.stats.written == 3000, 60)
    stop.set()
    thread.join(timeout=60)
    run_sinks(run)  # the Postgres sink's first pass (the S3 sink finds nothing new)

    s3 = s3_client(run.settings)
    before = lake_snapshot(s3, run.name)
    table = f'"{run.pg_schema}".encounters'
    with psycopg.connect(run.settings.require("rds_dsn"), autocommit=True) as conn:
        rows_before = conn.execute(f"select count(*), max(updated_at) from {table}").fetchone()  # noqa: S608 - identifiers this test created
    assert sum(len(ids) for ids in before.values()) == rows_before[0] == 3000  # type: ignore[index]

    for kind, topic in (("s3", run.topics.clean_lake), ("pg", run.topics.clean_ops)):
        plan = plan_replay(run.settings, group_id=f"{run.name}-{kind}", topic=topic, target=Target.beginning())
        assert plan.records_to_reread == 3000
        apply_replay(run.settings, plan)
    run_sinks(run)

    assert lake_snapshot(s3, run.name) == before  # same keys, same rows in the same order
    with psycopg.connect(run.settings.require("rds_dsn"), autocommit=True) as conn:
        assert conn.execute(f"select count(*), max(updated_at) from {table}").fetchone() == rows_before  # noqa: S608 - identifiers this test created
    assert sum(committed(run.settings, f"{run.name}-s3", run.topics.clean_lake, PARTITIONS)) == 3000
