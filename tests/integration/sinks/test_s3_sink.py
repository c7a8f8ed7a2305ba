"""The S3 Parquet sink against real Kafka and S3: schema projection into one file, the
idle timer's bound, dead letters for records S3 cannot take, and exactness across
kill -9 in the middle of writes."""

from __future__ import annotations

import io
import json
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from daas.dead_letter import HEADER_PREFIX
from schemas import CLEAN_ENCOUNTER, AvroCodec
from schemas.columns import arrow_schema
from sinks.base import FlushPolicy, SinkRunner
from sinks.lake.layout import intent_key, manifest_key
from sinks.s3_parquet import S3ParquetSink, s3_client
from tests.integration.sinks.conftest import PARTITIONS, SinkRun
from tests.integration.sinks.support import (
    BUCKET,
    clean_records,
    committed,
    encode,
    lake_ids,
    lake_keys,
    manifests,
    produce,
    read_topic,
    start_sink,
    wait_for,
)
from tests.unit.sinks.samples import current_schema, older_schema, store_with


def test_records_of_an_older_schema_land_in_the_current_file(sink_run: SinkRun, tmp_path: Path) -> None:
    old = older_schema()
    old_codec = AvroCodec(store_with(tmp_path / "v1", old))
    reader = AvroCodec(store_with(tmp_path / "v2", current_schema(), old))
    records = clean_records(120, seed=3)
    values = []
    for n, record in enumerate(records):
        if n % 2:
            without_birth_year = {k: v for k, v in record.items() if k != "birth_year"}
            values.append((b"k", old_codec.encode(CLEAN_ENCOUNTER, without_birth_year)))
        else:
            values.append((b"k", reader.encode(CLEAN_ENCOUNTER, record)))
    produce(sink_run.settings, sink_run.topics.clean_lake, values, partition=0)
    sink = S3ParquetSink(sink_run.settings, policy=FlushPolicy(max_records=10_000, idle_seconds=1.0))
    stats = SinkRunner(sink_run.settings, sink, topic=sink_run.topics.clean_lake, group_id=sink_run.name,
                       codec=reader).run(stop_when_idle=4.0)
    assert (stats.written, stats.dead_lettered, stats.batches) == (120, 0, 1)

    s3 = s3_client(sink_run.settings)
    found = manifests(s3, sink_run.name)
    assert list(found) == [manifest_key(sink_run.name, sink_run.topics.clean_lake, 0, 0)]
    groups = Counter((r["country_code"], r["epi_week"]) for r in records)
    entries = found[next(iter(found))]["entries"]
    assert len(entries) == len(groups)  # one object per Hive partition, not one per schema version
    birth_years = {}
    for entry in entries:
        body = s3.get_object(Bucket=BUCKET, Key=entry["url"].removeprefix(f"s3://{BUCKET}/"))["Body"].read()
        table = pq.read_table(io.BytesIO(body))
        assert table.schema.equals(arrow_schema(current_schema()))
        assert entry["meta"] == {"content_length": len(body), "record_count": table.num_rows}
        birth_years.update(zip(table.column("record_id").to_pylist(), table.column("birth_year").to_pylist(),
                               strict=True))
    assert birth_years == {str(r["record_id"]): (None if n % 2 else r["birth_year"]) for n, r in enumerate(records)}


def test_an_idle_partition_is_flushed_within_its_interval(sink_run: SinkRun) -> None:
    idle = 2.0
    topic = sink_run.topics.clean_lake
    sink = S3ParquetSink(sink_run.settings, policy=FlushPolicy(max_records=100_000, record_time_interval_ms=None,
                                                               idle_seconds=idle))
    runner = SinkRunner(sink_run.settings, sink, topic=topic, group_id=sink_run.name)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, kwargs={"should_stop": stop.is_set})
    thread.start()
    s3 = s3_client(sink_run.settings)
    values = encode(clean_records(300, seed=5))
    busy = threading.Event()

    def trickle() -> None:  # partition 1 never goes idle while this runs
        for value in values[100:]:
            if busy.is_set():
                return
            produce(sink_run.settings, topic, [value], partition=1)
            time.sleep(0.25)

    try:
        wait_for("the partitions to be assigned", lambda: len(runner._parts) == PARTITIONS, 30)
        trickler = threading.Thread(target=trickle)
        trickler.start()
        produce(sink_run.settings, topic, values[:100], partition=0)
        last_produced = time.monotonic()
        key = manifest_key(sink_run.name, topic, 0, 0)
        wait_for("partition 0's idle flush", lambda: key in lake_keys(s3, sink_run.name), idle + 10, 0.05)
        elapsed = time.monotonic() - last_produced
        busy_manifests = [k for k in lake_keys(s3, sink_run.name) if f"{topic}+0001+" in k and "_manifests" in k]
        busy.set()
        trickler.join(timeout=10)
    finally:
        stop.set()
        thread.join(timeout=60)
    print(f"idle partition flushed {elapsed:.2f}s after its last record (idle_seconds={idle})")
    # Flushed by the idle timer (not at once), within its interval plus one poll and the write.
    assert idle - 0.3 <= elapsed <= idle + 1.0, f"idle partition flushed {elapsed:.2f}s after its last record"
    assert busy_manifests == []  # the busy partition's open file was not cut meanwhile
    assert len(lake_ids(s3, sink_run.name)) == runner.stats.written == runner.stats.consumed


def test_records_s3_cannot_take_are_dead_lettered_and_the_rest_lands(sink_run: SinkRun) -> None:
    records = clean_records(300, seed=8)
    good = encode(records)
    not_a_uuid = AvroCodec().encode(CLEAN_ENCOUNTER, {**records[0], "record_id": "not-a-uuid"})
    corrupt = b"\xc3\x01" + AvroCodec().store.current(CLEAN_ENCOUNTER).fingerprint + b"\xff not avro at all"
    bad = [(b"garbage", corrupt), (b"no-uuid", not_a_uuid)]
    produce(sink_run.settings, sink_run.topics.clean_lake, good[:150] + bad + good[150:])
    stats = SinkRunner(sink_run.settings, S3ParquetSink(sink_run.settings, policy=FlushPolicy(idle_seconds=1.0)),
                       topic=sink_run.topics.clean_lake, group_id=sink_run.name).run(stop_when_idle=4.0)
    assert (stats.written, stats.dead_lettered) == (300, 2)
    assert lake_ids(s3_client(sink_run.settings), sink_run.name) == sorted(str(r["record_id"]) for r in records)
    dead = {m.key(): (m.value(), {k: v.decode() for k, v in m.headers()})
            for m in read_topic(sink_run.settings, sink_run.topics.dlq, PARTITIONS)}
    assert sorted(dead) == [b"garbage", b"no-uuid"]
    assert dead[b"garbage"][0] == bad[0][1] and dead[b"no-uuid"][0] == not_a_uuid
    assert dead[b"garbage"][1][f"{HEADER_PREFIX}reason"] == "decode_error"
    reasons = json.loads(dead[b"no-uuid"][1][f"{HEADER_PREFIX}reasons"])
    assert reasons == [{"code": "unconvertible_value", "field": "record_id",
                        "message": "record_id 'not-a-uuid' is not a UUID"}]
    assert dead[b"no-uuid"][1][f"{HEADER_PREFIX}stage"] == "s3-sink"
    ends = [read_topic_end(sink_run, p) for p in range(PARTITIONS)]
    assert committed(sink_run.settings, sink_run.name, sink_run.topics.clean_lake, PARTITIONS) == ends


def read_topic_end(run: SinkRun, partition: int) -> int:
    from confluent_kafka import TopicPartition

    from daas.kafka import create_consumer

    consumer = create_consumer(run.settings, f"{run.name}-ends")
    try:
        return consumer.get_watermark_offsets(TopicPartition(run.topics.clean_lake, partition), timeout=10)[1]
    finally:
        consumer.close()


def torn_writes(run: SinkRun, group: str) -> list[int]:
    """Partitions whose last write began (intent written) but was never committed."""
    s3 = s3_client(run.settings)
    offsets = committed(run.settings, group, run.topics.clean_lake, PARTITIONS)
    torn = []
    for p in range(PARTITIONS):
        try:
            body = s3.get_object(Bucket=BUCKET, Key=intent_key(run.name, run.topics.clean_lake, p))["Body"].read()
        except s3.exceptions.NoSuchKey:
            continue
        if json.loads(body)["next_offset"] > max(offsets[p], 0):
            torn.append(p)
    return torn


def kill_mid_write(proc: object, log: Path, writes: int, delay: float, timeout: float = 60) -> None:
    """SIGKILL the sink ``delay`` seconds after its ``writes``-th write began (by then the
    writer thread has decoded and is putting objects)."""
    wait_for(f"{writes} writes to begin", lambda: log.read_text(errors="replace").count(" writing ") >= writes,
             timeout, 0.005)
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)  # type: ignore[attr-defined]
    proc.wait(timeout=10)  # type: ignore[attr-defined]


def test_kill_9_in_the_middle_of_writes_leaves_exactly_the_input(sink_run: SinkRun) -> None:
    records = clean_records(6000, seed=13)
    produce(sink_run.settings, sink_run.topics.clean_lake, encode(records))
    group = f"{sink_run.name}-s3"
    torn = []
    # Each restart cuts differently (max records), so without the ledger a replayed write
    # would not overwrite what the killed one left.
    for attempt, (max_records, writes, delay) in enumerate([(400, 3, 0.03), (250, 4, 0.05), (700, 2, 0.08)]):
        log = sink_run.log_dir / f"s3-{attempt}.log"
        proc = start_sink("s3", sink_run.env, ["--group", group, "--max-records", str(max_records),
                                               "--idle-seconds", "1"], log)
        kill_mid_write(proc, log, writes, delay)
        torn += torn_writes(sink_run, group)
    log = sink_run.log_dir / "s3-final.log"
    final = start_sink("s3", sink_run.env, ["--group", group, "--max-records", "300", "--idle-seconds", "1",
                                            "--stop-when-idle", "4"], log)
    assert final.wait(timeout=120) == 0, log.read_text()[-3000:]
    assert torn, "no kill landed inside a write; the test proved nothing"

    s3 = s3_client(sink_run.settings)
    assert lake_ids(s3, sink_run.name) == sorted(str(r["record_id"]) for r in records)
    listed = Counter(e["url"].removeprefix(f"s3://{BUCKET}/") for m in manifests(s3, sink_run.name).values()
                     for e in m["entries"])
    objects = [k for k in lake_keys(s3, sink_run.name) if k.endswith(".parquet")]
    assert sorted(listed) == sorted(objects) and set(listed.values()) == {1}  # no orphan, none listed twice
    ends = [read_topic_end(sink_run, p) for p in range(PARTITIONS)]
    assert committed(sink_run.settings, group, sink_run.topics.clean_lake, PARTITIONS) == ends
