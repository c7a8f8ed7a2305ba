"""The dead-letter topic for operators: what is in it, and sending a selection back once fixed.

``read_dead_letters`` reads the topic (or a time window of it) into
:class:`DeadLetterEntry` values, parsed from the ``dlq.*`` headers
(``daas.dead_letter``); ``select`` filters them; ``summarise`` counts them by reason,
stage and source. ``redrive`` sends the selected originals back to the topic they
came from — the processor's raw topics, or a sink's clean topic — once the cause is
fixed (a schema released, a reference list extended, a column widened). Downstream
is idempotent (record ids are deterministic, sinks upsert and MERGE), so a record
re-driven twice still lands once. A dead letter that kept only a prefix
(``too_large``) is re-driven from its source coordinates while Kafka still has them.
Called by ``daas dlq``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from confluent_kafka import TopicPartition

from daas.dead_letter import HEADER_PREFIX, parse_headers
from daas.errors import DaasError
from daas.kafka import DeliveryReport, create_consumer, create_producer, flush_or_raise
from daas.settings import Settings

__all__ = ["DeadLetterEntry", "RedriveResult", "read_dead_letters", "redrive", "select", "summarise"]

REDRIVEN_HEADER = "daas.redriven_from"


@dataclass(frozen=True)
class DeadLetterEntry:
    """One dead letter: its coordinates on the dead-letter topic, why, and the original."""

    partition: int
    offset: int
    failed_at_ms: int
    reason: str
    reasons: list[dict[str, str | None]]
    stage: str
    source_topic: str
    source_partition: int
    source_offset: int
    key: bytes | None
    value: bytes | None
    original_headers: list[tuple[str, bytes]] = field(default_factory=list)
    truncated: bool = False

    @property
    def message(self) -> str:
        return str(self.reasons[0].get("message") or "") if self.reasons else ""


def _entry(msg: object) -> DeadLetterEntry | None:
    headers = list(msg.headers() or [])  # type: ignore[attr-defined]
    said = parse_headers(headers)
    if said is None:
        return None  # not written by a stage of this pipeline
    return DeadLetterEntry(
        partition=msg.partition(), offset=msg.offset(),  # type: ignore[attr-defined]
        failed_at_ms=said.failed_at_ms or msg.timestamp()[1],  # type: ignore[attr-defined]
        reason=said.reason, reasons=said.reasons, stage=said.stage, source_topic=said.source_topic,
        source_partition=said.source_partition, source_offset=said.source_offset,
        key=msg.key(), value=msg.value(),  # type: ignore[attr-defined]
        original_headers=[(k, v) for k, v in headers if not k.startswith(HEADER_PREFIX)], truncated=said.truncated)


def read_dead_letters(settings: Settings, *, since_ms: int | None = None, until_ms: int | None = None,
                      timeout: float = 30.0) -> list[DeadLetterEntry]:
    """Every dead letter on the topic (from ``since_ms`` by their Kafka time), up to its end now."""
    topic = settings.topics.dlq
    consumer = create_consumer(settings, f"daas-dlq-reader-{time.monotonic_ns()}")
    try:
        parts = consumer.list_topics(topic, timeout=timeout).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1] for p in parts}
        starts = [TopicPartition(topic, p, since_ms if since_ms is not None else 0) for p in parts]
        if since_ms is not None:
            starts = consumer.offsets_for_times(starts, timeout=timeout)
        starts = [tp if tp.offset >= 0 else TopicPartition(topic, tp.partition, ends[tp.partition]) for tp in starts]
        consumer.assign(starts)
        waiting = {tp.partition for tp in starts if tp.offset < ends[tp.partition]}
        entries: list[DeadLetterEntry] = []
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            for msg in consumer.consume(5000, timeout=0.2):
                if msg.error() is not None or msg.partition() not in waiting:
                    continue
                if msg.offset() >= ends[msg.partition()] - 1:
                    waiting.discard(msg.partition())
                entry = _entry(msg)
                if entry is not None and (until_ms is None or entry.failed_at_ms < until_ms):
                    entries.append(entry)
            for tp in consumer.position([TopicPartition(topic, p) for p in waiting]):
                if tp.offset >= ends[tp.partition]:
                    waiting.discard(tp.partition)
        if waiting:
            raise DaasError(f"could not read {topic} to its end within {timeout:.0f}s (partitions {sorted(waiting)})")
        return sorted(entries, key=lambda e: (e.failed_at_ms, e.partition, e.offset))
    finally:
        consumer.close()


def select(entries: Iterable[DeadLetterEntry], *, reasons: Sequence[str] = (), stages: Sequence[str] = (),
           source_topics: Sequence[str] = ()) -> list[DeadLetterEntry]:
    """The entries matching every filter given (each filter: any of its values)."""
    return [e for e in entries if (not reasons or e.reason in reasons) and (not stages or e.stage in stages)
            and (not source_topics or e.source_topic in source_topics)]


def summarise(entries: Iterable[DeadLetterEntry]) -> Counter[tuple[str, str, str]]:
    """How many dead letters per (reason, stage, source topic)."""
    return Counter((e.reason, e.stage, e.source_topic) for e in entries)


@dataclass
class RedriveResult:
    sent: int = 0
    from_source: int = 0  # truncated dead letters re-read from their source coordinates
    missing: list[DeadLetterEntry] = field(default_factory=list)  # truncated, and gone from the source


def redrive(settings: Settings, entries: Sequence[DeadLetterEntry], *,
            progress: Callable[[int], None] | None = None) -> RedriveResult:
    """Send each entry's original (key, value, original headers) back to its source topic, acknowledged."""
    result = RedriveResult()
    producer = create_producer(settings)
    report = DeliveryReport()
    originals = _originals_of_truncated(settings, [e for e in entries if e.truncated])
    for n, entry in enumerate(entries, 1):
        key, value, headers = entry.key, entry.value, entry.original_headers
        if entry.truncated:
            original = originals.get((entry.source_topic, entry.source_partition, entry.source_offset))
            if original is None:
                result.missing.append(entry)
                continue
            key, value, headers = original
            result.from_source += 1
        marker = (REDRIVEN_HEADER, f"{settings.topics.dlq}:{entry.partition}:{entry.offset}".encode())
        producer.produce(entry.source_topic, value=value, key=key, headers=[*headers, marker], on_delivery=report)
        producer.poll(0)
        result.sent += 1
        if progress and n % 1000 == 0:
            progress(n)
    flush_or_raise(producer, report)
    return result


def _originals_of_truncated(settings: Settings, entries: Sequence[DeadLetterEntry]
                            ) -> dict[tuple[str, int, int], tuple[bytes | None, bytes | None, list]]:
    if not entries:
        return {}
    consumer = create_consumer(settings, f"daas-dlq-redrive-{time.monotonic_ns()}")
    found: dict[tuple[str, int, int], tuple[bytes | None, bytes | None, list]] = {}
    try:
        for entry in entries:
            consumer.assign([TopicPartition(entry.source_topic, entry.source_partition, entry.source_offset)])
            for msg in consumer.consume(1, timeout=10):
                if msg.error() is None and msg.offset() == entry.source_offset:
                    found[(entry.source_topic, entry.source_partition, entry.source_offset)] = (
                        msg.key(), msg.value(), list(msg.headers() or []))
    finally:
        consumer.close()
    return found
