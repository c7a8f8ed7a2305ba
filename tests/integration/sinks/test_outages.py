"""Both sinks under load while S3 and PostgreSQL are down for 30 s: they pause, memory
stays bounded, and afterwards they catch up with counts that reconcile exactly.

Runs on a private stack (own runtime folder and ports) so that stopping its servers
does not disturb the shared one other tests use.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from daas.settings import Settings, Topics, load_settings
from daas.stack import LocalStack
from sinks.base.buffer import MESSAGE_OVERHEAD
from sinks.s3_parquet import s3_client
from tests.integration.sinks.support import (
    REPO,
    clean_records,
    committed,
    create_topic,
    encode,
    lake_ids,
    pg_ids,
    produce,
    sink_env,
    start_sink,
    wait_for,
)

PARTITIONS = 3
OUTAGE = 30.0
RATE = 1500  # records per second into each sink's topic
BUDGET = 4 * 2**20
# RSS a sink may gain while its destination is down: the buffer budget, librdkafka's
# capped prefetch queue (8 MiB) and the transient decode/Parquet work of a write attempt.
# Unbounded, 30 s at this rate would buffer about 45,000 records (~28 MiB of messages).
RSS_HEADROOM = 24 * 2**20
# One consumed batch (5,000 messages) may land on top of a full budget.
CONSUME_BATCH_BYTES = 5000 * (400 + MESSAGE_OVERHEAD)


@pytest.fixture(scope="module")
def private_stack() -> Iterator[LocalStack]:
    # Under the repo, not /tmp: the postgres system user must be able to reach it.
    root = REPO / ".runtime" / "test-stacks" / uuid.uuid4().hex[:8]
    stack = LocalStack(load_settings(runtime_dir=root, stack_kafka_port=31292, stack_s3_port=31200,
                                     stack_postgres_port=31632))
    try:
        stack.up(timeout=180)
        yield stack
    finally:
        stack.down()
        shutil.rmtree(root, ignore_errors=True)


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


class RssSampler(threading.Thread):
    """Samples the RSS of processes every 0.2 s while running."""

    def __init__(self, pids: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.samples: dict[str, list[tuple[float, int]]] = {name: [] for name in pids}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for name, pid in self.pids.items():
                self.samples[name].append((time.monotonic(), rss(pid)))
            time.sleep(0.2)

    def peak(self, name: str, start: float, end: float) -> int:
        return max(v for t, v in self.samples[name] if start <= t <= end)

    def median(self, name: str, start: float, end: float) -> int:
        values = sorted(v for t, v in self.samples[name] if start <= t <= end)
        return values[len(values) // 2]


def test_sinks_pause_through_a_30s_outage_and_catch_up_exactly(private_stack: LocalStack, tmp_path: Path) -> None:
    name = f"t-outage-{uuid.uuid4().hex[:8]}"
    stack_env = private_stack.env()
    topics = Topics(clean_lake=f"{name}.lake", clean_ops=f"{name}.ops", dlq=f"{name}.dlq")
    settings: Settings = load_settings(
        runtime_dir=private_stack.root, topics=topics, s3_prefix=name,
        **{k.removeprefix("DAAS_").lower(): v for k, v in stack_env.items()})
    for topic in (topics.clean_lake, topics.clean_ops, topics.dlq):
        create_topic(settings, topic, PARTITIONS)
    env = {**sink_env(stack_env, clean_lake=topics.clean_lake, clean_ops=topics.clean_ops, dlq=topics.dlq),
           "DAAS_S3_PREFIX": name, "DAAS_RUNTIME_DIR": str(private_stack.root)}
    schema = name.replace("-", "_")
    common = ["--budget-bytes", str(BUDGET), "--max-backoff", "2"]
    logs = {"s3": tmp_path / "s3.log", "postgres": tmp_path / "pg.log"}
    sinks = {"s3": start_sink("s3", env, [*common, "--idle-seconds", "1", "--max-records", "5000"], logs["s3"]),
             "postgres": start_sink("postgres", env, [*common, "--pg-schema", schema], logs["postgres"])}
    records = encode(clean_records(int(RATE * 55), seed=41))
    producers = [threading.Thread(target=produce, args=(settings, topic, records), kwargs={"rate": RATE})
                 for topic in (topics.clean_lake, topics.clean_ops)]
    sampler = RssSampler({kind: proc.pid for kind, proc in sinks.items()})
    try:
        sampler.start()
        for thread in producers:
            thread.start()
        time.sleep(10)  # steady state: both sinks keep up
        warm = time.monotonic()
        private_stack.s3proxy.stop()
        private_stack.postgres.stop()
        down = time.monotonic()
        lake_before = committed(settings, "daas-s3-sink", topics.clean_lake, PARTITIONS)
        ops_before = committed(settings, "daas-postgres-sink", topics.clean_ops, PARTITIONS)
        time.sleep(OUTAGE - (time.monotonic() - down))
        lake_during = committed(settings, "daas-s3-sink", topics.clean_lake, PARTITIONS)
        ops_during = committed(settings, "daas-postgres-sink", topics.clean_ops, PARTITIONS)
        up = time.monotonic()
        private_stack.s3proxy.start()
        private_stack.postgres.start()
        private_stack.s3proxy.wait_ready(60)
        private_stack.postgres.wait_ready(60)
        for thread in producers:
            thread.join(timeout=120)
        produced = time.monotonic()
        want = sorted(key.decode() for key, _ in records)
        s3 = s3_client(settings)
        wait_for("the S3 sink to catch up", lambda: lake_ids(s3, name) == want, 90, 1.0)
        wait_for("the Postgres sink to catch up", lambda: pg_ids(settings, schema) == want, 90, 1.0)
        caught_up = time.monotonic()
    finally:
        sampler.stop.set()
        for proc in sinks.values():
            proc.terminate()
        outputs = {kind: proc.communicate(timeout=60)[0] for kind, proc in sinks.items()}
    for kind, proc in sinks.items():
        assert proc.returncode == 0, logs[kind].read_text()[-3000:]
        log = logs[kind].read_text()
        assert "with the partition paused" in log, f"{kind} sink never paused"
        counts = json.loads(outputs[kind].splitlines()[-1])
        assert counts["dead_lettered"] == 0
        assert counts["peak_buffered_bytes"] <= BUDGET + CONSUME_BATCH_BYTES
        baseline = sampler.median(kind, warm - 5, warm)
        peak = sampler.peak(kind, down, up)
        print(f"{kind}: RSS before outage {baseline / 2**20:.0f} MiB, peak during {peak / 2**20:.0f} MiB, "
              f"peak buffered {counts['peak_buffered_bytes'] / 2**20:.1f} MiB; caught up "
              f"{caught_up - produced:.1f}s after the last record was produced ({caught_up - up:.0f}s after the "
              "servers came back)")
        assert peak <= baseline + RSS_HEADROOM, f"{kind} RSS grew {(peak - baseline) / 2**20:.0f} MiB while paused"
    # Paused means not reading on: at most the writes in flight at the cut were committed.
    assert sum(lake_during) - sum(lake_before) <= 5000 * PARTITIONS
    assert ops_during == ops_before
    assert sum(committed(settings, "daas-s3-sink", topics.clean_lake, PARTITIONS)) == len(records)
    assert sum(committed(settings, "daas-postgres-sink", topics.clean_ops, PARTITIONS)) == len(records)
