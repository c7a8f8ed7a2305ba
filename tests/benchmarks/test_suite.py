"""The benchmark suite's measurements on tiny inputs against the real services, so the suite cannot rot.

Rates are the suite's output, not a contract: these tests assert counts — every record
produced, processed, written and seen where the suite says it is — and that the run
leaves nothing behind. The Quix Streams peers need their own environment
(``scripts/bench-peer.sh``) and are not run here.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from benchmarks import limits, pipeline, stages
from benchmarks.data import RawRecords, generate, produce
from benchmarks.observe import LakeManifests, PostgresRows, Samples
from benchmarks.report import TARGETS, judge, render, write_json
from benchmarks.suite import ROUTES
from benchmarks.workspace import BenchRun, endpoint_env
from daas.kafka import TopicSpec, create_admin, ensure_topics
from tests.support.endpoints import Endpoints
from tests.support.pipeline_run import wait_for


@pytest.fixture
def run(endpoints: Endpoints) -> Iterator[BenchRun]:
    settings = endpoints.settings(routes=ROUTES)
    bench = BenchRun(settings, endpoint_env(settings), partitions=2)
    yield bench
    assert bench.cleanup() == []
    # A deleted topic leaves the broker's metadata a moment after the controller confirms it.
    admin = create_admin(settings)
    wait_for("the run's topics to be gone", lambda: not [t for t in admin.list_topics(timeout=10).topics
                                                         if bench.id in t], timeout=15)


@pytest.fixture(scope="module")
def records() -> RawRecords:
    return generate(600)


def _raw_topic(run: BenchRun, records: RawRecords, count: int) -> str:
    topic = f"{run.id}-raw.health.raw.simuhealth.v1"
    ensure_topics(create_admin(run.settings), [TopicSpec(topic, run.partitions)])
    assert produce(run.settings, topic, records, count=count)[0] == count
    return topic


def test_limits_measure_the_records_they_are_given(run: BenchRun, records: RawRecords) -> None:
    raw = _raw_topic(run, records, 400)
    assert limits.consume_limit(run.settings, raw, 400, **limits.FAST_FETCH) > 0
    limit = limits.processor_limit(run.settings, records.values[:400], batch=100)
    assert limit.clean + limit.dead == 400
    topics = run.settings.topics
    assert limit.outputs == {topics.clean_lake: limit.clean, topics.clean_ops: limit.clean}
    assert limits.codec_limit(records.values[:400], limit.clean_records, batch=100) > 0
    schema = f"{run.id}_limits".replace("-", "_")
    run.schemas.append(schema)
    assert limits.copy_limit(run.settings, schema, limit.clean_values, batch=100) > 0
    with psycopg.connect(run.settings.require("rds_dsn")) as conn:
        assert conn.execute(f'select count(*) from "{schema}".copy_limit').fetchone() == (limit.clean,)  # noqa: S608


def test_stages_and_end_to_end_account_for_every_record(run: BenchRun, records: RawRecords) -> None:
    raw = _raw_topic(run, records, 500)
    piece = run.slice("stages", raw_topic=raw, routes=ROUTES)
    processed = stages.run_processor(piece, 500, timeout=120)
    assert processed.records == 500 and processed.peak_rss_mib[0] > 0
    written = stages.run_sink(piece, "postgres", 500, timeout=120)
    assert written.records == 500 and written.records_per_second
    rows = PostgresRows(piece.settings, piece.pg_schema)
    assert rows.count() == 500
    rows.close()

    e2e = run.slice("e2e", raw_topic=raw, routes=ROUTES)
    result = pipeline.end_to_end(e2e, 500, timeout=120)
    assert result["records"] == 500 and result["seconds"] > 0
    assert LakeManifests(e2e.settings, e2e.s3_prefix).count() == 500
    cpu = result["cpu"]
    assert set(cpu["stages_seconds"]) == {"processor-1", "s3-sink", "postgres-sink"}, cpu
    assert all(seconds > 0 for seconds in cpu["stages_seconds"].values())  # a Python start-up alone costs CPU
    assert sum(cpu["stages_seconds"].values()) + cpu["other_seconds"] == pytest.approx(cpu["busy_seconds"], abs=0.05)
    assert 0 < cpu["busy_share"] <= 1
    assert cpu["ceiling_records_per_second"] == pytest.approx(os.cpu_count() * 500 / cpu["busy_seconds"])


def test_cpu_seconds_count_this_process_and_the_machine() -> None:
    from benchmarks.observe import cpu_seconds, machine_cpu_seconds

    mine, (busy, every) = cpu_seconds(os.getpid()), machine_cpu_seconds()
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # burn 0.3 s of CPU
        pass
    assert cpu_seconds(os.getpid()) - mine >= 0.25
    busy_after, every_after = machine_cpu_seconds()
    assert busy_after - busy >= 0.25 and every_after - every >= busy_after - busy
    assert cpu_seconds(2**22 + 1) is None  # no such process


def test_latency_sees_every_paced_record_in_postgres(run: BenchRun, records: RawRecords) -> None:
    piece = run.slice("latency", routes=ROUTES)
    result = pipeline.latency(piece, records, rate=300, seconds=1, warmup=20)
    assert (result["records"], result["visible"], result["missing"]) == (300, 300, 0)
    assert 0 < result["ms"]["p50"] <= result["ms"]["p99"] <= result["ms"]["max"]


def test_rate_leaves_out_start_up_and_what_the_first_observation_already_counted() -> None:
    samples = Samples(began=100.0)
    for at, count in [(101, 0), (102, 1000), (103, 2000), (104, 3000), (105, 3000)]:
        samples.add(count, at=at)
    assert samples.rate() == 1000.0
    assert (samples.first_seen(), samples.finished()) == (2.0, 4.0)


def test_the_table_and_json_judge_every_target(tmp_path: Path) -> None:
    results = {
        "run": "bench-test", "records": 10, "partitions": 2, "machine": {"cores": 2, "load": {}},
        "limits": {"processor": {"records_per_second": 10_000.0}},
        "stages": {"processor_1": {"records_per_second": 7_000.0, "peak_rss_mib": [100.0]},
                   "processor_2": {"error": "RuntimeError: boom"}},
        "peers": {"quix_processor": {"records_per_second": 4_000.0}},
        "end_to_end": {"records": 10, "seconds": 1.0, "records_per_second": 12_000.0, "postgres_seconds": 0.9,
                       "s3_seconds": 1.0,
                       "cpu": {"stages_seconds": {"processor-1": 0.8, "s3-sink": 0.3}, "other_seconds": 0.4,
                               "busy_seconds": 1.5, "busy_share": 0.75, "us_per_record": 150_000.0,
                               "ceiling_records_per_second": 13.3}},
        "latency": {"10000": {"ms": {"p50": 300.0, "p99": 1200.0, "max": 1500.0}, "produced_per_second": 9000.0,
                              "seconds": 20, "missing": 0}},
        "recovery": {"partitions": [0, 1], "first_seconds": 7.0, "all_seconds": 8.0},
    }
    results["targets"] = judge(results)
    assert [t["met"] for t in results["targets"]] == [True, None, True, True, False, True]
    table = render(results)
    assert table.count("MISSED") == 1 and "FAILED" in table
    assert "processor-1 0.8, s3-sink 0.3, Kafka + S3Proxy + PostgreSQL + the suite 0.4" in table
    assert "150,000 µs" in table and "the machine was 75% busy" in table
    assert all(t.name in table for t in TARGETS)
    write_json(results, tmp_path / "results.json")
    assert json.loads((tmp_path / "results.json").read_text())["targets"] == results["targets"]
