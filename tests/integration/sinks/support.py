"""Clean encounters, topics, lake and table readers for the sink, replay and adversarial tests.

Records are real clean encounters: SimuHealth traffic passed through the processors'
``to_clean``, so countries, weeks and values look like production.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
from confluent_kafka import TopicPartition

from daas.kafka import (
    DeliveryReport,
    TopicSpec,
    create_admin,
    create_consumer,
    create_producer,
    ensure_topics,
    flush_or_raise,
    produce as produce_waiting,
)
from daas.settings import Settings
from schemas import CLEAN_ENCOUNTER, SIMUHEALTH_ENCOUNTER, AvroCodec

REPO = Path(__file__).resolve().parents[3]
BUCKET = "daas-lake"


@cache
def _context() -> Any:
    from stream_processors.reference_view import load_reference
    from stream_processors.transform import Context

    facilities, icd10 = load_reference()
    return Context(facilities, icd10, b"sink-tests-patient-key", datetime(2026, 11, 26, tzinfo=UTC))


def clean_records(n: int, seed: int = 11, *, weeks: int = 6) -> list[dict[str, Any]]:
    """``n`` clean encounters (distinct record ids) spread over countries and ``weeks``."""
    from producers.simuhealth import SimuHealthGenerator
    from stream_processors.transform import Rejected, to_clean

    ctx = _context()
    generator = SimuHealthGenerator(seed, start=ctx.now - timedelta(weeks=weeks), end=ctx.now)
    out: list[dict[str, Any]] = []
    for raw in generator.generate(n + n // 5 + 10):
        record = to_clean(SIMUHEALTH_ENCOUNTER, raw, ingested_at=ctx.now, ctx=ctx)
        if not isinstance(record, Rejected):
            out.append(record)
            if len(out) == n:
                return out
    raise AssertionError(f"generator gave only {len(out)} clean records of {n}")


def create_topic(settings: Settings, name: str, partitions: int) -> None:
    ensure_topics(create_admin(settings), [TopicSpec(name, partitions)])


def produce(settings: Settings, topic: str, values: Sequence[tuple[bytes | None, bytes]], *,
            partition: int | None = None, rate: float | None = None) -> None:
    """Produce (key, value) pairs; keyed partitioning unless ``partition`` is given."""
    producer = create_producer(settings)
    report = DeliveryReport()
    started = time.monotonic()
    for n, (key, value) in enumerate(values, 1):
        produce_waiting(producer, topic, key, value, partition=-1 if partition is None else partition,
                        on_delivery=report)
        if rate:
            ahead = n / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        if n % 1000 == 0:
            producer.poll(0)
    flush_or_raise(producer, report)


def encode(records: Sequence[dict[str, Any]], codec: AvroCodec | None = None) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs: the record id as key, the Avro single-object encoding as value."""
    values = (codec or AvroCodec()).encode_many(CLEAN_ENCOUNTER, list(records))
    return [(str(r["record_id"]).encode(), v) for r, v in zip(records, values, strict=True)]


def lake_keys(s3: Any, prefix: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/"):
        keys += [o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/")]
    return sorted(keys)


def lake_ids(s3: Any, prefix: str) -> list[str]:
    """record_id of every row of every Parquet object under ``prefix`` (sorted, with repeats)."""
    ids: list[str] = []
    for key in lake_keys(s3, prefix):
        if key.endswith(".parquet"):
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            ids += pq.read_table(io.BytesIO(body), columns=["record_id"]).column(0).to_pylist()
    return sorted(ids)


def lake_snapshot(s3: Any, prefix: str) -> dict[str, list[str]]:
    """Every Parquet object's key → its record ids in file order."""
    out = {}
    for key in lake_keys(s3, prefix):
        if key.endswith(".parquet"):
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            out[key] = pq.read_table(io.BytesIO(body), columns=["record_id"]).column(0).to_pylist()
    return out


def manifests(s3: Any, prefix: str) -> dict[str, dict[str, Any]]:
    return {k: json.loads(s3.get_object(Bucket=BUCKET, Key=k)["Body"].read())
            for k in lake_keys(s3, prefix) if "/_manifests/" in k}


def pg_ids(settings: Settings, schema: str, table: str = "encounters") -> list[str]:
    with psycopg.connect(settings.require("rds_dsn"), autocommit=True, connect_timeout=5) as conn:
        return sorted(str(r[0]) for r in conn.execute(f'select record_id from "{schema}"."{table}"'))  # noqa: S608 - identifiers this test created


def committed(settings: Settings, group: str, topic: str, partitions: int) -> list[int]:
    consumer = create_consumer(settings, group)
    try:
        found = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        return [tp.offset for tp in found]
    finally:
        consumer.close()


def read_topic(settings: Settings, topic: str, partitions: int, timeout: float = 3.0) -> list[Any]:
    consumer = create_consumer(settings, f"reader-{topic}-{time.monotonic_ns()}")
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out = []
    try:
        while batch := consumer.consume(1000, timeout=timeout):
            out += [m for m in batch if m.error() is None]
    finally:
        consumer.close()
    return out


def sink_env(base: dict[str, str], **topics: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONUNBUFFERED": "1", **base}
    env.update({f"DAAS_TOPIC_{k.upper()}": v for k, v in topics.items()})
    return env


def start_sink(kind: str, env: dict[str, str], args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m sinks <kind> <args>`` with stderr (its log) going to ``log``."""
    handle = log.open("ab")
    args = ["--session-timeout-ms", "6000", *args]  # the broker's minimum: restarts take over quickly
    return subprocess.Popen([sys.executable, "-m", "sinks", kind, *args], env=env, cwd=REPO,  # noqa: S603
                            stdout=subprocess.PIPE, stderr=handle)


def wait_for(what: str, done: Any, timeout: float, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def log_lines(log: Path) -> Iterator[str]:
    return iter(log.read_text(errors="replace").splitlines()) if log.exists() else iter(())
