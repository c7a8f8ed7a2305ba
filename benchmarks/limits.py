"""The machine's limits, measured in the same run as the stages they bound.

- librdkafka consume: ``Consumer.consume(5000)`` over a pre-filled topic, nothing done
  with the messages — the most any consumer here can read (with the processor's
  fetch setting, and with librdkafka's default, which the sinks run with);
- Avro decode + encode: the processor's codec work (raw encounters decoded, clean
  encounters encoded) with ``schemas.AvroCodec``'s batch calls;
- the in-process processor: ``Processor.process`` on batches, no Kafka — the most a
  processor worker could do per core;
- PostgreSQL COPY: rows per second into a table shaped like the Postgres sink's.

Each returns records (or rows) per second; none of them counts start-up.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import psycopg
from confluent_kafka import TopicPartition

from daas.kafka import create_consumer
from daas.settings import Settings
from schemas import CLEAN_ENCOUNTER, AvroCodec, SchemaStore
from schemas.columns import LINEAGE_COLUMNS, columns
from sinks.postgres_table import TableSpec, ensure_table
from stream_processors.pipeline import InputMessage
from stream_processors.worker import build_processor

__all__ = ["FAST_FETCH", "ProcessorLimit", "codec_limit", "consume_limit", "copy_limit", "processor_limit"]


# librdkafka waits fetch.queue.backoff.ms (default 1 s) before fetching again once a
# partition's local queue is full enough; the processor's consumer sets it to 10 ms.
FAST_FETCH = {"fetch.queue.backoff.ms": 10}


def consume_limit(settings: Settings, topic: str, n: int, *, batch: int = 5000, timeout: float = 60.0,
                  **config: object) -> float:
    """Messages/s of ``consume(batch)`` reading the first ``n`` messages of ``topic`` (assigned, no
    group), with the project's consumer settings plus ``config`` (librdkafka keys)."""
    consumer = create_consumer(settings, f"bench-limit-{uuid.uuid4().hex[:8]}", **config)
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        seen, first = 0, 0.0
        deadline = time.monotonic() + timeout
        while seen < n:
            messages = consumer.consume(batch, timeout=1.0)
            if not seen and messages:
                first = time.perf_counter()
            seen += sum(1 for m in messages if m.error() is None)
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {seen} of {n} messages arrived from {topic} in {timeout:.0f}s")
        return seen / (time.perf_counter() - first)
    finally:
        consumer.close()


@dataclass
class ProcessorLimit:
    """What ``Processor.process`` did with the records: its rate and the outcome it predicts for every stage."""

    records_per_second: float
    clean: int
    dead: int
    outputs: Counter[str] = field(default_factory=Counter)  # records per output topic
    clean_records: list[dict[str, Any]] = field(default_factory=list)  # a sample, for the codec and COPY limits
    clean_values: list[bytes] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"records_per_second": self.records_per_second, "clean": self.clean, "dead": self.dead}


def processor_limit(settings: Settings, values: list[bytes], *, batch: int = 5000, sample: int = 50_000,
                    topic: str = "raw") -> ProcessorLimit:
    """Decode, validate/normalise/de-identify, encode and route ``values`` in batches, in this process."""
    processor = build_processor(settings)
    now_ms = int(time.time() * 1000)
    messages = [InputMessage(topic, 0, i, now_ms, None, v) for i, v in enumerate(values)]
    limit = ProcessorLimit(0.0, 0, 0)
    elapsed = 0.0
    for start in range(0, len(messages), batch):
        chunk = messages[start:start + batch]
        began = time.perf_counter()
        results = processor.process(chunk)
        elapsed += time.perf_counter() - began
        for result in results:
            if result.dead is not None:
                limit.dead += 1
                continue
            limit.clean += 1
            limit.outputs.update(o.topic for o in result.outputs)
            if len(limit.clean_records) < sample and result.record is not None and result.outputs:
                limit.clean_records.append(result.record)
                limit.clean_values.append(result.outputs[0].value)
    limit.records_per_second = len(messages) / elapsed
    return limit


def codec_limit(raw_values: list[bytes], clean_records: list[dict[str, Any]], *, batch: int = 5000) -> float:
    """Records/s of decoding raw encounters plus encoding clean ones (equal numbers of each)."""
    n = min(len(raw_values), len(clean_records))
    codec = AvroCodec()
    began = time.perf_counter()
    for start in range(0, n, batch):
        codec.decode_many(list(raw_values[start:start + batch]))
        codec.encode_many(CLEAN_ENCOUNTER, clean_records[start:start + batch])
    return n / (time.perf_counter() - began)


def copy_limit(settings: Settings, schema: str, clean_values: list[bytes], *, batch: int = 5000) -> float:
    """Rows/s of COPY into a fresh table shaped like the Postgres sink's (schema ``schema``), one
    transaction per ``batch`` rows; the rows are the clean records as the sink decodes them."""
    fields = columns(SchemaStore.default().current(CLEAN_ENCOUNTER).raw)
    spec = TableSpec(schema, "copy_limit", [*fields, *LINEAGE_COLUMNS])
    decode = AvroCodec().decode_record
    rows = [(*(data.get(c.name) for c in fields), "bench", 0, offset)
            for offset, data in enumerate(map(decode, clean_values))]
    names = ", ".join(f'"{c.name}"' for c in spec.columns)
    with psycopg.connect(settings.require("rds_dsn"), autocommit=True) as conn:
        ensure_table(conn, spec)
        began = time.perf_counter()
        for start in range(0, len(rows), batch):
            with conn.transaction(), conn.cursor() as cur, \
                    cur.copy(f"copy {spec.identifier.as_string(conn)} ({names}) from stdin") as copy:
                for row in rows[start:start + batch]:
                    copy.write_row(row)
        return len(rows) / (time.perf_counter() - began)
