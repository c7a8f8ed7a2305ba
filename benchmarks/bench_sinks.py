"""Sink throughput and latency on this machine, against the local stack; prints numbers.

Run: ``.venv/bin/python benchmarks/bench_sinks.py`` (``daas stack up`` first). It
produces real clean encounters to fresh topics (3 partitions) and measures, in order:

1. the machine's limit: confluent-kafka batch consume + decode only (the sinks' decoder);
2. the S3 Parquet sink, records/s from first record consumed to last offset committed;
3. the peer: Quix Streams' ``S3FileSink`` writing the same records as Parquet to the same
   S3 endpoint (a subprocess in its own venv, ``--quix-python``; its confluent-kafka pin
   differs from ours), with the same Avro decoding as our sink;
4. the Postgres sink, records/s;
5. end-to-end latency, produce → visible in PostgreSQL (a reader polls the table every
   10 ms), at a fixed offered load (``--rate``, default 2,000 records/s).

The load average before and after each phase is printed: other work on the machine
changes these numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import TopicPartition

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from daas.kafka import DeliveryReport, create_consumer, create_producer, flush_or_raise  # noqa: E402
from daas.settings import Settings, Topics, load_settings  # noqa: E402
from schemas import CLEAN_ENCOUNTER, AvroCodec, SchemaStore  # noqa: E402
from sinks.base import FlushPolicy, SinkRunner  # noqa: E402
from schemas.codec import without_logical_types  # noqa: E402
from sinks.postgres import PostgresSink  # noqa: E402
from sinks.s3_parquet import S3ParquetSink, s3_client  # noqa: E402
from tests.integration.sinks.support import clean_records, create_topic, encode, produce  # noqa: E402

PARTITIONS = 3
BUCKET = "daas-lake"
# Files of 20,000 records, and each partition gets whole files, so the run measures
# writing, not the idle timer (the production policy writes 100,000-record files and
# flushes after 60 idle seconds). The peer checkpoints every second.
FILE_RECORDS = 20_000
THROUGHPUT_POLICY = FlushPolicy(max_records=FILE_RECORDS, idle_seconds=1.0)

# The peer: Quix Streams reading the same topic and writing Parquet to the same S3.
_PEER = r'''
import io, json, sys, time
from botocore.config import Config
from fastavro import parse_schema, schemaless_reader
from quixstreams import Application
from quixstreams.models.serializers import Deserializer
from quixstreams.sinks.community.file.s3 import S3FileSink

cfg = json.loads(sys.argv[1])
schema = parse_schema(cfg["schema"])
state = {"first": None, "last_write": None, "rows": 0}

class AvroSingleObject(Deserializer):
    """Same work as our sink's decoder: skip the 10-byte header, read Avro primitives."""
    def __call__(self, value, ctx):
        if state["first"] is None:
            state["first"] = time.monotonic()
        buf = io.BytesIO(value)
        buf.seek(10)
        return schemaless_reader(buf, schema, None)

class TimedS3FileSink(S3FileSink):
    def write(self, batch):
        super().write(batch)
        state["last_write"] = time.monotonic()
        state["rows"] += batch.size

app = Application(broker_address=cfg["bootstrap"], consumer_group=cfg["group"], auto_offset_reset="earliest",
                  commit_interval=1.0, loglevel="WARNING")
topic = app.topic(cfg["topic"], value_deserializer=AvroSingleObject())
sink = TimedS3FileSink(bucket=cfg["bucket"], aws_access_key_id=cfg["key_id"], aws_secret_access_key=cfg["secret"],
                       region_name="us-east-1", endpoint_url=cfg["endpoint"], directory=cfg["prefix"],
                       format="parquet",
                       # As for our client: S3-compatible servers refuse boto3's default checksum trailers.
                       config=Config(request_checksum_calculation="when_required",
                                     response_checksum_validation="when_required"))
app.dataframe(topic).sink(sink)
app.run(timeout=cfg["idle"])
print(json.dumps({"rows": state["rows"], "seconds": state["last_write"] - state["first"]}))
'''


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (1 min) {five:.2f} (5 min)"


def _generate(n: int) -> list[tuple[bytes, bytes]]:
    started = time.perf_counter()
    values = encode(clean_records(n, seed=97))
    print(f"generated {n} clean encounters in {time.perf_counter() - started:.1f}s "
          f"({sum(len(v) for _, v in values) / n:.0f} bytes each on the wire)")
    return values


def bench_limit(settings: Settings, topic: str, n: int) -> float:
    """Batch consume + decode only: the ceiling for any sink on this machine."""
    decode = AvroCodec().with_logical_types(False).decode_record
    consumer = create_consumer(settings, f"bench-limit-{uuid.uuid4().hex[:6]}")
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    seen, first = 0, None
    try:
        while seen < n:
            batch = consumer.consume(5000, timeout=5.0)
            if not batch:
                raise RuntimeError(f"only {seen} of {n} records arrived")
            first = first or time.perf_counter()
            for msg in batch:
                decode(msg.value())
            seen += len(batch)
        return n / (time.perf_counter() - first)  # type: ignore[operator]
    finally:
        consumer.close()


def _timed_run(runner: SinkRunner, n: int, timeout: float = 600) -> float:
    """Records/s from the first record consumed until ``n`` are written and committed."""
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, kwargs={"should_stop": stop.is_set})
    thread.start()
    first = None
    deadline = time.monotonic() + timeout
    try:
        while runner.stats.written < n or runner.stats.commits == 0:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{runner.sink.name} stopped at {runner.stats.written} of {n}")
            if first is None and runner.stats.consumed:
                first = time.monotonic()
            time.sleep(0.005)
        done = time.monotonic()
        # The commit of the last write follows it within the same loop pass.
        while thread.is_alive() and runner._parts and any(len(p.buffer) for p in runner._parts.values()):
            time.sleep(0.005)
        return n / (done - (first or done))
    finally:
        stop.set()
        thread.join(timeout=120)


def bench_s3(settings: Settings, topic: str, n: int) -> float:
    sink = S3ParquetSink(settings, policy=THROUGHPUT_POLICY)
    return _timed_run(SinkRunner(settings, sink, topic=topic, group_id=f"bench-s3-{uuid.uuid4().hex[:6]}"), n)


def bench_peer(settings: Settings, topic: str, n: int, python: str) -> float | None:
    if not Path(python).exists():
        print(f"peer skipped: {python} not found; create it with: uv venv /tmp/quixvenv --python python3.11 && "
              "uv pip install --python /tmp/quixvenv quixstreams==3.28.1 boto3 pyarrow fastavro")
        return None
    raw = without_logical_types(SchemaStore.default().current(CLEAN_ENCOUNTER).raw)
    cfg = {"bootstrap": settings.kafka_bootstrap_servers, "topic": topic, "group": f"bench-quix-{uuid.uuid4().hex[:6]}",
           "bucket": BUCKET, "prefix": f"bench_quix_{uuid.uuid4().hex[:6]}", "endpoint": settings.s3_endpoint_url,
           "key_id": settings.require("s3_access_key_id"), "secret": settings.require("s3_secret_access_key"),
           "schema": raw, "idle": 5.0}
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(_PEER)
    try:
        done = subprocess.run([python, script.name, json.dumps(cfg)], capture_output=True, text=True, timeout=900,  # noqa: S603
                              check=False, cwd=tempfile.gettempdir())
    finally:
        os.unlink(script.name)
    if done.returncode != 0:
        print(f"peer failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
        return None
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rows"] != n:
        print(f"peer wrote {result['rows']} rows of {n}")
    return result["rows"] / result["seconds"]


def bench_postgres(settings: Settings, topic: str, n: int, schema: str) -> float:
    sink = PostgresSink(settings, schema=schema)
    return _timed_run(SinkRunner(settings, sink, topic=topic, group_id=f"bench-pg-{uuid.uuid4().hex[:6]}"), n)


def bench_latency(settings: Settings, topic: str, values: list[tuple[bytes, bytes]], rate: float,
                  seconds: float, schema: str) -> list[float]:
    """Produce at ``rate`` while the Postgres sink runs; ms from produce to visible."""
    runner = SinkRunner(settings, PostgresSink(settings, schema=schema), topic=topic,
                        group_id=f"bench-e2e-{uuid.uuid4().hex[:6]}")
    stop = threading.Event()
    sink_thread = threading.Thread(target=runner.run, kwargs={"should_stop": stop.is_set})
    sink_thread.start()
    while len(runner._parts) < PARTITIONS or not all(p.prepared for p in runner._parts.values()):
        time.sleep(0.05)
    produced: dict[tuple[int, int], float] = {}
    visible: dict[int, list[tuple[float, int]]] = {p: [] for p in range(PARTITIONS)}

    def on_delivery(err: Any, msg: Any) -> None:
        if err is None:
            produced[(msg.partition(), msg.offset())] = msg.timestamp()[1] / 1000

    def poll() -> None:
        with psycopg.connect(settings.require("rds_dsn"), autocommit=True) as conn:
            while not stop.is_set():
                now = time.time()
                rows = conn.execute(f'select source_partition, max(source_offset) from "{schema}".encounters '  # noqa: S608 - identifiers this run created
                                    "group by 1").fetchall()
                for partition, offset in rows:
                    visible[partition].append((now, offset))
                time.sleep(0.01)

    poller = threading.Thread(target=poll)
    producer = create_producer(settings)
    report = DeliveryReport()
    count = int(rate * seconds)
    try:
        poller.start()
        started = time.monotonic()
        for i in range(count):
            key, value = values[i % len(values)]
            producer.produce(topic, key=key, value=value, on_delivery=lambda e, m: (report(e, m), on_delivery(e, m)))
            producer.poll(0)
            ahead = (i + 1) / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        flush_or_raise(producer, report)
        deadline = time.monotonic() + 60
        while runner.stats.written < count and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        stop.set()
        poller.join(timeout=30)
        sink_thread.join(timeout=60)
    latencies = []
    for (partition, offset), at in produced.items():
        seen = next((t for t, high in visible[partition] if high >= offset), None)
        if seen is not None:
            latencies.append((seen - at) * 1000)
    if len(latencies) != count:
        print(f"warning: {count - len(latencies)} of {count} records never became visible")
    return latencies


def _phase(name: str, work: Callable[[], Any]) -> Any:
    before = load()
    result = work()
    print(f"  [{name}: {before} before, {load()} after]")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000, help="rounded up to whole files per partition")
    parser.add_argument("--rate", type=float, default=2000.0, help="offered load for the latency run")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the latency run")
    parser.add_argument("--quix-python", default="/tmp/quixvenv/bin/python")  # noqa: S108 - a throwaway venv
    args = parser.parse_args()
    run = f"bench-{uuid.uuid4().hex[:8]}"
    topics = Topics(clean_lake=f"{run}.lake", clean_ops=f"{run}.e2e", dlq=f"{run}.dlq")
    settings = load_settings(topics=topics, s3_prefix=run)
    schema = run.replace("-", "_")
    print(f"machine: {os.cpu_count()} cores, {load()}; python {sys.version.split()[0]}; run {run}")
    for topic in (topics.clean_lake, topics.clean_ops, topics.dlq):
        create_topic(settings, topic, PARTITIONS)
    per_partition = -(-args.records // (PARTITIONS * FILE_RECORDS)) * FILE_RECORDS
    args.records = per_partition * PARTITIONS
    values = _generate(args.records)
    for p in range(PARTITIONS):  # whole files per partition: every write is cut by count, none by the clock
        produce(settings, topics.clean_lake, values[p * per_partition:(p + 1) * per_partition], partition=p)

    limit = _phase("limit", lambda: bench_limit(settings, topics.clean_lake, args.records))
    print(f"limit (batch consume + decode only): {limit:,.0f} records/s")
    s3 = _phase("s3", lambda: bench_s3(settings, topics.clean_lake, args.records))
    print(f"S3 Parquet sink: {s3:,.0f} records/s ({s3 / limit:.0%} of the limit)")
    peer = _phase("peer", lambda: bench_peer(settings, topics.clean_lake, args.records, args.quix_python))
    if peer:
        print(f"peer, Quix Streams 3.28.1 S3FileSink (parquet): {peer:,.0f} records/s -> ours is {s3 / peer:.1f}x")
    pg = _phase("postgres", lambda: bench_postgres(settings, topics.clean_lake, args.records, schema))
    print(f"Postgres sink: {pg:,.0f} records/s")
    latencies = _phase("latency", lambda: bench_latency(settings, topics.clean_ops, values, args.rate, args.seconds,
                                                         f"{schema}_e2e"))
    qs = statistics.quantiles(latencies, n=100)
    print(f"produce -> visible in PostgreSQL at {args.rate:,.0f} records/s offered for {args.seconds:.0f}s "
          f"({len(latencies)} records): p50 {qs[49]:.0f} ms, p99 {qs[98]:.0f} ms, max {max(latencies):.0f} ms")
    print("targets: S3 >= 2x peer: " + ("n/a" if not peer else ("met" if s3 >= 2 * peer else "MISSED"))
          + f"; S3 >= 60% of limit: {'met' if s3 >= 0.6 * limit else 'MISSED'}"
          + f"; Postgres p99 < 1 s: {'met' if qs[98] < 1000 else 'MISSED'}")
    s3_client(settings)  # the run's objects stay under the prefix for inspection


if __name__ == "__main__":
    main()
