"""Dead letters an operator can repair: an unknown schema, released, re-driven, landing once."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import psycopg

from tests.support.sinks import run_sinks_until_idle
from producers.kafka_producer import RecordProducer
from schemas import SIMUHEALTH_ENCOUNTER, AvroCodec, SchemaStore
from schemas.store import SCHEMA_DIR
from tests.integration.stream_processors.test_processor_worker import _records
from tests.support.pipeline_run import REPO, Run, Worker, read_topic, wait_for


def _release_next_version(folder: Path) -> Path:
    """A copy of the project's schemas with a new, compatible SimuHealth version (an optional field)."""
    shutil.copytree(SCHEMA_DIR, folder, ignore=shutil.ignore_patterns("*.py", "__pycache__", "*.md"))
    current = json.loads((folder / f"{SIMUHEALTH_ENCOUNTER}.avsc").read_text())
    current["fields"].append({"name": "visit_type", "type": ["null", "string"], "default": None,
                              "doc": "outpatient, emergency, follow-up"})
    text = json.dumps(current, indent=2)
    (folder / f"{SIMUHEALTH_ENCOUNTER}.avsc").write_text(text)
    history = folder / "history" / SIMUHEALTH_ENCOUNTER
    (history / f"v{len(list(history.glob('v*.avsc'))) + 1:04d}.avsc").write_text(text)
    return folder


def _redrive(run: Run, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console.main", "dlq", "redrive", *args], env=run.env(), cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)


def test_records_of_an_unreleased_schema_are_redriven_once_it_is_released(endpoints, unique_name,  # noqa: ANN001
                                                                          tmp_path: Path) -> None:
    run = Run(endpoints, unique_name("redrive"))
    released = _release_next_version(tmp_path / "schemas")
    upgraded = AvroCodec(SchemaStore(released))  # a producer upgraded before the processor
    records = _records(600, seed=61)
    producer = RecordProducer(run.settings, topic=run.topics.raw_simuhealth, schema_name=SIMUHEALTH_ENCOUNTER,
                              source="simuhealth", codec=upgraded)
    for record in records:
        producer.produce(record["encounter_id"], {**record, "visit_type": "outpatient"})
    producer.close()

    worker = Worker(run.env(), run.settings.runtime_dir / "before.log")
    try:
        wait_for("every record dead-lettered", lambda: run.count(run.topics.dlq) >= len(records), timeout=60,
                 alive=worker.assert_alive)
    finally:
        worker.stop()
    dead = read_topic(run.settings, run.topics.dlq)
    reasons = [json.loads(dict(m.headers())["dlq.reasons"])[0] for m in dead]
    assert Counter(r["code"] for r in reasons) == {"unknown_schema": len(records)}
    assert "simuhealth_encounter" in reasons[0]["message"] and "daas dlq redrive" in reasons[0]["message"]
    assert run.count(run.topics.clean_ops) == 0

    # The schema is released to the processor; the dead letters are re-driven — twice, by mistake.
    worker = Worker(run.env(DAAS_SCHEMA_DIR=str(released)), run.settings.runtime_dir / "after.log")
    try:
        first = _redrive(run, "--reason", "unknown_schema")
        assert first.returncode == 0, first.stderr
        assert f"re-drove {len(records)} dead letters" in first.stdout
        second = _redrive(run, "--reason", "unknown_schema")
        assert second.returncode == 0, second.stderr
        wait_for("the re-driven records", lambda: len(read_topic(run.settings, run.topics.clean_ops, idle=0.5))
                 >= len(records), timeout=60, alive=worker.assert_alive)
        wait_for("the second re-drive to be processed", lambda: _raw_consumed(run) >= 3 * len(records),
                 timeout=60, alive=worker.assert_alive)
    finally:
        worker.stop()

    keys = [m.key() for m in read_topic(run.settings, run.topics.clean_ops)]
    assert len(keys) == len(set(keys)) == len(records)  # the second re-drive was recognised as a repeat
    schema = run.name.replace("-", "_")
    run_sinks_until_idle(run.settings, s3_group=f"{run.name}-s3", postgres_group=f"{run.name}-pg",
                         postgres_schema=schema, timeout=120)
    with psycopg.connect(run.settings.require("rds_dsn"), autocommit=True) as conn:
        rows = conn.execute(f'select count(*), count(distinct record_id) from "{schema}".encounters').fetchone()
    assert rows == (len(records), len(records))


def _raw_consumed(run: Run) -> int:
    """Offsets the processor group committed on the SimuHealth raw topic, over its partitions."""
    from confluent_kafka import TopicPartition

    from daas.kafka import create_consumer

    from stream_processors.worker import processor_group

    consumer = create_consumer(run.settings, processor_group(run.settings, run.topics.raw_simuhealth))
    try:
        parts = consumer.list_topics(run.topics.raw_simuhealth, timeout=10).topics[run.topics.raw_simuhealth].partitions
        committed = consumer.committed([TopicPartition(run.topics.raw_simuhealth, p) for p in parts], timeout=10)
        return sum(max(tp.offset, 0) for tp in committed)
    finally:
        consumer.close()
