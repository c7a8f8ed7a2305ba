"""The poller's memory of what it already emitted, kept in a compacted Kafka topic.

One record per row: key ``["<sheet id>", "<tab>", "<row key>"]`` (JSON, so a ``/``
in a tab title or key cannot make two rows collide), value a small JSON object with
the row's content hash. Compaction keeps the latest hash per row, so the topic stays
about as large as the sheets it tracks, and a restart restores by reading it to its
end. The topic (default ``health.gsheet.checkpoints.v1``) is created with
``cleanup.policy=compact`` when missing; an existing topic that is not compacted is
refused, because deleted checkpoints would re-emit whole sheets.

The poller calls ``load`` once at start and ``save`` after each poll, only once
Kafka has acknowledged that poll's rows; ``save`` returns only once Kafka has
acknowledged the checkpoint records too (DESIGN.md §5: commit after durable).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import ConfigResource, ResourceType

from daas.errors import ConfigurationError
from daas.kafka import (
    DeliveryReport,
    TopicSpec,
    create_admin,
    create_consumer,
    create_producer,
    ensure_topics,
    flush_or_raise,
)
from daas.settings import Settings
from producers.gsheet.errors import CheckpointUnavailable

__all__ = [
    "DEFAULT_CHECKPOINT_TOPIC",
    "Checkpoint",
    "CheckpointEntry",
    "CheckpointStore",
    "KafkaCheckpointStore",
    "checkpoint_key",
]

_log = logging.getLogger(__name__)

DEFAULT_CHECKPOINT_TOPIC = "health.gsheet.checkpoints.v1"
_FORMAT_VERSION = 1

Checkpoint = dict[tuple[str, str], str]
"""(tab, row key) -> content hash of the version last emitted and acknowledged."""


@dataclass(frozen=True)
class CheckpointEntry:
    """One row's emitted version, as the poller saves it."""

    tab: str
    row_key: str
    content_hash: str


class CheckpointStore(Protocol):
    """Durable (tab, row key) -> content hash per spreadsheet."""

    def load(self, sheet_id: str) -> Checkpoint:
        """Everything saved for ``sheet_id``; called once before the first poll."""
        ...

    def save(self, sheet_id: str, entries: Sequence[CheckpointEntry]) -> None:
        """Make ``entries`` durable; return only when they are."""
        ...


def checkpoint_key(sheet_id: str, tab: str, row_key: str) -> bytes:
    """The Kafka key of one row's checkpoint record."""
    return json.dumps([sheet_id, tab, row_key], ensure_ascii=False, separators=(",", ":")).encode()


class KafkaCheckpointStore:
    """Checkpoints in a compacted topic; one instance per poller process."""

    def __init__(self, settings: Settings, topic: str = DEFAULT_CHECKPOINT_TOPIC, *, partitions: int = 1,
                 restore_timeout: float = 60.0, flush_timeout: float = 60.0) -> None:
        self.topic = topic
        self._settings = settings
        self._partitions = partitions
        self._restore_timeout = restore_timeout
        self._flush_timeout = flush_timeout
        self._producer: Producer | None = None
        self._topic_checked = False

    def ensure_topic(self) -> None:
        """Create the topic compacted when missing; refuse one that does not compact.

        ``load`` and ``save`` call it once per store; calling it again re-checks.
        """
        admin = create_admin(self._settings)
        ensure_topics(admin, [TopicSpec(self.topic, self._partitions, {"cleanup.policy": "compact"})],
                      replication_factor=self._settings.kafka_replication_factor)
        resource = ConfigResource(ResourceType.TOPIC, self.topic)
        try:
            configs = admin.describe_configs([resource])[resource].result(timeout=30)
        except KafkaException as exc:
            raise CheckpointUnavailable(f"cannot read the configuration of topic {self.topic}: {exc}") from exc
        policy = configs["cleanup.policy"].value or ""
        if "compact" not in policy.split(","):
            raise ConfigurationError(
                f"checkpoint topic {self.topic} has cleanup.policy={policy}; it must be compact (set it with "
                f"kafka-configs --alter --add-config cleanup.policy=compact) or name another topic in "
                f"DAAS_TOPIC_GSHEET_CHECKPOINTS")
        self._topic_checked = True

    def load(self, sheet_id: str) -> Checkpoint:
        """Read the topic from its beginning to its end; keep the latest hash per row of ``sheet_id``."""
        if not self._topic_checked:
            self.ensure_topic()
        consumer = create_consumer(self._settings, "daas-gsheet-checkpoint-restore",
                                   **{"enable.partition.eof": True})
        state: Checkpoint = {}
        try:
            metadata = consumer.list_topics(self.topic, timeout=self._restore_timeout)
            pending: set[int] = set()
            assignment = []
            for partition in metadata.topics[self.topic].partitions:
                low, high = consumer.get_watermark_offsets(TopicPartition(self.topic, partition),
                                                           timeout=self._restore_timeout)
                if high > low:
                    pending.add(partition)
                    assignment.append(TopicPartition(self.topic, partition, OFFSET_BEGINNING))
            consumer.assign(assignment)
            deadline = time.monotonic() + self._restore_timeout
            records = 0
            while pending:
                if time.monotonic() > deadline:
                    raise CheckpointUnavailable(
                        f"checkpoint topic {self.topic} not read to its end within {self._restore_timeout:.0f}s "
                        f"(partitions {sorted(pending)} unfinished)")
                for msg in consumer.consume(1000, timeout=0.5):
                    error = msg.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            pending.discard(msg.partition())
                            continue
                        raise CheckpointUnavailable(f"reading checkpoint topic {self.topic}: {error.str()}")
                    records += 1
                    self._apply(state, sheet_id, msg.key(), msg.value())
        except KafkaException as exc:
            raise CheckpointUnavailable(f"reading checkpoint topic {self.topic}: {exc}") from exc
        finally:
            consumer.close()
        _log.info("checkpoint %s: %d rows of sheet %s restored from %d records", self.topic, len(state),
                  sheet_id, records)
        return state

    @staticmethod
    def _apply(state: Checkpoint, sheet_id: str, key: bytes | None, value: bytes | None) -> None:
        try:
            key_sheet, tab, row_key = json.loads(key or b"null")
        except (ValueError, TypeError):
            _log.warning("checkpoint record with unreadable key %r skipped (its row may be re-emitted)", key)
            return
        if key_sheet != sheet_id:
            return
        if value is None:  # a tombstone forgets the row
            state.pop((tab, row_key), None)
            return
        try:
            state[(tab, row_key)] = json.loads(value)["content_hash"]
        except (ValueError, TypeError, KeyError):
            _log.warning("checkpoint record for %s/%s has an unreadable value; skipped (the row may be "
                         "re-emitted)", tab, row_key)

    def save(self, sheet_id: str, entries: Sequence[CheckpointEntry]) -> None:
        """Produce one record per entry and wait until Kafka acknowledged all of them."""
        if not entries:
            return
        if not self._topic_checked:
            self.ensure_topic()
        if self._producer is None:
            self._producer = create_producer(self._settings)
        report = DeliveryReport()
        saved_at = datetime.now(tz=UTC).isoformat(timespec="milliseconds")
        for entry in entries:
            value = json.dumps({"v": _FORMAT_VERSION, "sheet_id": sheet_id, "tab": entry.tab,
                                "row_key": entry.row_key, "content_hash": entry.content_hash,
                                "saved_at": saved_at}, ensure_ascii=False).encode()
            key = checkpoint_key(sheet_id, entry.tab, entry.row_key)
            while True:
                try:
                    self._producer.produce(self.topic, key=key, value=value, on_delivery=report)
                    break
                except BufferError:
                    self._producer.poll(0.05)  # local queue full: let deliveries drain
        flush_or_raise(self._producer, report, self._flush_timeout)
