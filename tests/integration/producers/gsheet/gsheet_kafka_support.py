"""Helpers shared by the sheet poller's integration tests: read a topic back to its end."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from daas.kafka import create_consumer
from daas.settings import Settings
from schemas import AvroCodec

__all__ = ["Emitted", "read_raw_rows"]


@dataclass(frozen=True)
class Emitted:
    """One raw sheet row as read back from the topic."""

    key: str
    record: dict[str, Any]
    headers: dict[str, bytes]
    partition: int
    offset: int

    @property
    def key_and_hash(self) -> tuple[str, str]:
        return self.key, self.record["content_hash"]


def read_raw_rows(settings: Settings, topic: str, timeout: float = 30.0) -> list[Emitted]:
    """Every record of ``topic``, decoded, in offset order per partition (then by partition)."""
    consumer = create_consumer(settings, f"t-read-{uuid.uuid4().hex[:8]}", **{"enable.partition.eof": True})
    codec = AvroCodec()
    out: list[Emitted] = []
    try:
        partitions = consumer.list_topics(topic, timeout=timeout).topics[topic].partitions
        pending = set()
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            if high > low:
                pending.add(p)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in pending])
        deadline = time.monotonic() + timeout
        while pending:
            assert time.monotonic() < deadline, f"{topic} not read to its end in {timeout}s"
            for msg in consumer.consume(500, timeout=0.5):
                if msg.error() is not None:
                    assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                    pending.discard(msg.partition())
                    continue
                out.append(Emitted(msg.key().decode(), codec.decode(msg.value()).record,
                                   dict(msg.headers() or []), msg.partition(), msg.offset()))
    finally:
        consumer.close()
    return sorted(out, key=lambda e: (e.partition, e.offset))
