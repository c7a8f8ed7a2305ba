"""Operating a running pipeline: `daas status` with a known lag, and the services' metrics moving."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import urllib.request

from confluent_kafka import TopicPartition

from daas.kafka import DeliveryReport, create_consumer, create_producer, flush_or_raise
from producers.kafka_producer import RecordProducer
from schemas import SIMUHEALTH_ENCOUNTER
from tests.integration.stream_processors.test_processor_worker import _records
from tests.support.pipeline_run import REPO, Run, Sink, Worker, wait_for


def _daas(run: Run, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console.main", *args], env=run.env(**env), cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)


def test_status_reports_the_lag_it_is_given_and_the_records_per_second_of_a_running_processor(
        endpoints, unique_name) -> None:  # noqa: ANN001
    # The processor routes to the lake only: the ops topic holds just the records below.
    run = Run(endpoints, unique_name("status"), routes={"simuhealth": ["lake"], "gsheet": ["lake"]})
    producer, report = create_producer(run.settings), DeliveryReport()
    for partition, n in ((0, 300), (1, 300), (2, 400)):
        for i in range(n):
            producer.produce(run.topics.clean_ops, value=b"v", key=f"{partition}-{i}".encode(), partition=partition,
                             on_delivery=report)
    for reason in ("icd10_unknown", "icd10_unknown", "decode_error"):
        producer.produce(run.topics.dlq, value=b"x", headers=[("dlq.reason", reason.encode()),
                                                              ("dlq.source.topic", b"raw")], on_delivery=report)
    flush_or_raise(producer, report)
    group = f"{run.name}-pg"
    consumer = create_consumer(run.settings, group)
    consumer.commit(offsets=[TopicPartition(run.topics.clean_ops, 0, 300), TopicPartition(run.topics.clean_ops, 1, 100)],
                    asynchronous=False)
    consumer.close()

    feed = threading.Thread(target=_feed, args=(run, _records(6000, seed=71), 1500), daemon=True)
    worker = Worker(run.env(), run.settings.runtime_dir / "processor.log")
    try:
        feed.start()
        wait_for("the processor's first output", lambda: run.count(run.topics.clean_lake) > 0, timeout=30,
                 alive=worker.assert_alive)
        result = _daas(run, "status", "--json", "--postgres-group", group)
    finally:
        worker.stop()
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    ops = {p["partition"]: (p["committed"], p["end"], p["lag"]) for p in status["lags"] if p["stage"] == "postgres sink"}
    assert ops == {0: (300, 300, 0), 1: (100, 300, 200), 2: (None, 400, 400)}
    assert status["lag_by_stage"]["postgres sink"] == 600
    assert status["dead_letters"] == {"icd10_unknown": 2, "decode_error": 1}
    assert status["topic_sizes"][run.topics.dlq] == 3
    assert status["records_per_s"]["processor (simuhealth)"] > 0
    assert {"lake_rows", "rds_rows", "last_load_at"} <= set(status["warehouse"])


def _feed(run: Run, records: list[dict], rate: float) -> None:
    producer = RecordProducer(run.settings, topic=run.topics.raw_simuhealth, schema_name=SIMUHEALTH_ENCOUNTER,
                              source="simuhealth")
    producer.produce_many(((r["encounter_id"], r) for r in records), rate=rate)
    producer.close()


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:  # noqa: S310
        text = response.read().decode()
    return {m[1]: float(m[2]) for m in re.finditer(r"^(daas_[^\s]+) ([0-9.e+]+)$", text, re.MULTILINE)}


def test_every_service_serves_metrics_that_move_while_the_pipeline_runs(endpoints, unique_name) -> None:  # noqa: ANN001
    run = Run(endpoints, unique_name("metrics"))
    schema = run.name.replace("-", "_")
    worker = Worker(run.env(DAAS_METRICS_PORT="31451"), run.settings.runtime_dir / "processor.log")
    sink = Sink(run.env(DAAS_METRICS_PORT="31452"), run.settings.runtime_dir / "pg.log",
                ["postgres", "--group", f"{run.name}-pg", "--pg-schema", schema])

    def alive() -> None:
        worker.assert_alive()
        sink.assert_alive()

    clean = 'daas_processor_records_total{outcome="clean"}'
    written = 'daas_sink_records_written_total{sink="postgres-sink"}'
    try:
        wait_for("both metrics endpoints", lambda: _answers(31451) and _answers(31452), timeout=30, alive=alive)
        before = {**_scrape(31451), **_scrape(31452)}
        _feed(run, _records(2000, seed=73), rate=4000)
        wait_for("the counters to move", lambda: _scrape(31451).get(clean, 0) >= 2000
                 and _scrape(31452).get(written, 0) >= 2000, timeout=60, alive=alive)
        after = {**_scrape(31451), **_scrape(31452)}
        health = _daas(run, "healthcheck", "--port", "31451")
    finally:
        worker.stop()
        sink.stop()
    assert before.get(clean, 0) == 0 and after[clean] == 2000
    assert before.get(written, 0) == 0 and after[written] == 2000
    assert after["daas_processor_batch_records_count"] >= 1
    assert after['daas_sink_write_records_count{sink="postgres-sink"}'] >= 1
    assert any(k.startswith("daas_processor_produce_to_commit_seconds_bucket") for k in after)
    assert health.returncode == 0 and '"status": "ok"' in health.stdout
    stopped = _daas(run, "healthcheck", "--port", "31451")
    assert stopped.returncode == 1  # the service is gone: the container check must fail


def _answers(port: int) -> bool:
    try:
        _scrape(port)
    except OSError:
        return False
    return True


def test_stages_fail_fast_naming_the_setting_when_kafka_is_unreachable(endpoints, unique_name) -> None:  # noqa: ANN001
    run = Run(endpoints, unique_name("nokafka"))
    for command in (["process"], ["produce", "simuhealth", "--records", "5"]):
        began = time.monotonic()
        result = _daas(run, *command, DAAS_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9")
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "DAAS_KAFKA_BOOTSTRAP_SERVERS='127.0.0.1:9'" in result.stderr.replace("\n", "")
        assert time.monotonic() - began < 30
