"""The sink contract and the one loop every sink runs in.

The order that makes sinks exactly-once in effect is written down here, once:

1. consume a bounded batch (at most ``batch_size`` records in memory);
2. decode it (undecodable records become dead letters, never stop the sink);
3. ``Sink.write`` makes the batch durable; a ``Retryable`` failure pauses the
   partitions, backs off and retries the same batch, so nothing is read ahead;
4. dead letters are produced and flushed (failing if any is unacknowledged);
5. only then are the batch's offsets committed.

A crash anywhere before 5 replays the batch; ``write`` must therefore be idempotent
(deterministic object keys, upserts guarded by the source version).
"""

from __future__ import annotations

import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Message, TopicPartition

from daas.dead_letter import DeadLetter, Reason
from daas.errors import DecodeError, Retryable
from daas.kafka import DeliveryReport, create_consumer, create_producer, flush_or_raise
from daas.settings import Settings
from schemas import AvroCodec

__all__ = ["Batch", "Record", "RunStats", "Sink", "SinkRunner"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Record:
    """One decoded record with where it came from."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]]
    data: dict[str, Any]


Batch = Sequence[Record]


class Sink(ABC):
    """A destination. Subclasses only write; the runner owns consuming and committing."""

    name: str
    version: str = "0.1.0"

    @abstractmethod
    def write(self, batch: Batch) -> list[tuple[Record, Reason]]:
        """Make ``batch`` durable, idempotently. Return records the destination rejected
        individually (they go to the dead-letter topic); raise ``Retryable`` when the
        destination is unavailable, anything else when the sink itself is broken."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


@dataclass
class RunStats:
    consumed: int = 0
    written: int = 0
    dead_lettered: int = 0
    batches: int = 0
    retries: int = 0
    per_partition: dict[tuple[str, int], int] = field(default_factory=dict)


class SinkRunner:
    """Consumes one topic in a consumer group and drives a sink with the order above."""

    def __init__(self, settings: Settings, sink: Sink, *, topic: str, group_id: str,
                 batch_size: int = 5000, batch_timeout: float = 1.0,
                 max_backoff: float = 30.0) -> None:
        self.settings = settings
        self.sink = sink
        self.topic = topic
        self.group_id = group_id
        self.batch_size = batch_size
        self.batch_timeout = batch_timeout
        self.max_backoff = max_backoff
        self.stats = RunStats()
        self._codec = AvroCodec.from_settings(settings.schema_registry_url)
        self._dlq_topic = settings.topics.dlq

    def run(self, *, should_stop: Callable[[], bool] = lambda: False,
            stop_when_idle: float | None = None) -> RunStats:
        """Run until ``should_stop()`` or, with ``stop_when_idle``, after that many idle seconds."""
        consumer = create_consumer(self.settings, self.group_id)
        producer, report = create_producer(self.settings), DeliveryReport()
        consumer.subscribe([self.topic])
        idle_since = time.monotonic()
        try:
            while not should_stop():
                messages = consumer.consume(self.batch_size, timeout=self.batch_timeout)
                if not messages:
                    if stop_when_idle is not None and time.monotonic() - idle_since > stop_when_idle:
                        break
                    continue
                idle_since = time.monotonic()
                self._handle(consumer, producer, report, messages)
        finally:
            consumer.close()
            self.sink.close()
        return self.stats

    def _handle(self, consumer: Any, producer: Any, report: DeliveryReport, messages: list[Message]) -> None:
        records, dead = self._decode(messages)
        rejected = self._write_with_retry(consumer, records)
        dead += [self._dead(r.topic, r.partition, r.offset, r.timestamp_ms, r.key, r.value, r.headers, [reason])
                 for r, reason in rejected]
        for letter in dead:
            producer.produce(self._dlq_topic, key=letter.key, value=letter.value,
                             headers=letter.headers(), on_delivery=report)
        flush_or_raise(producer, report)
        offsets: dict[tuple[str, int], int] = {}
        for msg in messages:
            tp = (msg.topic(), msg.partition())
            offsets[tp] = max(offsets.get(tp, -1), msg.offset())
        consumer.commit(offsets=[TopicPartition(t, p, o + 1) for (t, p), o in offsets.items()],
                        asynchronous=False)
        self.stats.batches += 1
        self.stats.consumed += len(messages)
        self.stats.written += len(records) - len(rejected)
        self.stats.dead_lettered += len(dead)
        for tp, _ in offsets.items():
            self.stats.per_partition[tp] = self.stats.per_partition.get(tp, 0) + 1

    def _decode(self, messages: list[Message]) -> tuple[list[Record], list[DeadLetter]]:
        records, dead = [], []
        for msg in messages:
            if msg.error() is not None:
                raise Retryable(f"consumer error on {msg.topic()}: {msg.error()}")
            headers = msg.headers() or []
            ts = msg.timestamp()[1]
            try:
                decoded = self._codec.decode(msg.value())
            except DecodeError as exc:
                dead.append(self._dead(msg.topic(), msg.partition(), msg.offset(), ts, msg.key(),
                                       msg.value(), headers, [Reason("decode_error", str(exc))]))
                continue
            records.append(Record(msg.topic(), msg.partition(), msg.offset(), ts, msg.key(),
                                  msg.value(), headers, decoded.record))
        return records, dead

    def _write_with_retry(self, consumer: Any, records: list[Record]) -> list[tuple[Record, Reason]]:
        if not records:
            return []
        delay = 0.5
        paused: list[TopicPartition] = []
        try:
            while True:
                try:
                    return self.sink.write(records)
                except Retryable as exc:
                    self.stats.retries += 1
                    if not paused:
                        paused = consumer.assignment()
                        consumer.pause(paused)
                    log.warning("%s: %s; retrying in %.1fs with partitions paused", self.sink.name, exc, delay)
                    deadline = time.monotonic() + delay
                    while time.monotonic() < deadline:
                        # Serve group membership. Paused partitions return nothing, but a
                        # partition assigned meanwhile could: rewind and pause it too.
                        msg = consumer.poll(0.1)
                        if msg is not None and msg.error() is None:
                            tp = TopicPartition(msg.topic(), msg.partition(), msg.offset())
                            consumer.seek(tp)
                            consumer.pause([tp])
                            paused.append(tp)
                    delay = min(delay * 2, self.max_backoff) * (0.8 + 0.4 * random.random())  # noqa: S311
        finally:
            if paused:
                consumer.resume(paused)

    def _dead(self, topic: str, partition: int, offset: int, ts: int, key: bytes | None, value: bytes | None,
              headers: Sequence[tuple[str, bytes]], reasons: list[Reason]) -> DeadLetter:
        return DeadLetter(key=key, value=value, reasons=reasons, stage=self.sink.name,
                          stage_version=self.sink.version, source_topic=topic, source_partition=partition,
                          source_offset=offset, source_timestamp_ms=ts, original_headers=list(headers))
