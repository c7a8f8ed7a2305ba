"""Emit records of one schema to one topic: idempotent, keyed, with headers, counted.

Both producers use this. Every record carries headers ``source``,
``schema_fingerprint`` and ``trace_id``; delivery failures are counted by the
delivery report and ``close`` raises if any record was not acknowledged.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from daas.kafka import DeliveryReport, create_producer, flush_or_raise, produce, require_brokers
from daas.settings import Settings
from schemas import AvroCodec

__all__ = ["RecordProducer"]


class RecordProducer:
    """Encodes records with the project codec and produces them to ``topic``.

    Construction fails fast (``BrokersUnreachable``, naming DAAS_KAFKA_BOOTSTRAP_SERVERS
    and what the client saw) when no broker answers within ``connect_timeout`` seconds:
    librdkafka would otherwise queue records for minutes and then fail without a cause.
    """

    def __init__(self, settings: Settings, *, topic: str, schema_name: str, source: str,
                 codec: AvroCodec | None = None, connect_timeout: float = 10.0) -> None:
        require_brokers(settings, connect_timeout)
        self.topic = topic
        self.schema_name = schema_name
        self._codec = codec or AvroCodec.from_settings(settings.schema_registry_url)
        self._producer = create_producer(settings)
        self.report = DeliveryReport()
        self._static_headers = [
            ("source", source.encode()),
            ("schema_fingerprint", self._codec.store.current(schema_name).fingerprint.hex().encode()),
        ]
        self.sent = 0

    def produce(self, key: str, record: dict[str, Any]) -> None:
        self.produce_raw(key.encode(), self._codec.encode(self.schema_name, record))

    def produce_raw(self, key: bytes | None, value: bytes) -> None:
        """Produce already-encoded bytes (also used by tests to send undecodable values)."""
        headers = [*self._static_headers, ("trace_id", uuid.uuid4().hex.encode())]
        produce(self._producer, self.topic, key, value, headers=headers, on_delivery=self.report)
        self.sent += 1
        if self.sent % 1000 == 0:
            self._producer.poll(0)

    def produce_many(self, items: Iterable[tuple[str, dict[str, Any]]], *, rate: float | None = None) -> None:
        """Produce (key, record) pairs, at most ``rate`` per second when given."""
        started = time.monotonic()
        for n, (key, record) in enumerate(items, 1):
            self.produce(key, record)
            if rate:
                ahead = n / rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)

    def close(self, timeout: float = 60.0) -> None:
        """Flush; raise DeliveryError unless every record was acknowledged."""
        flush_or_raise(self._producer, self.report, timeout)
