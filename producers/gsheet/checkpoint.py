"""The poller's memory of what it already emitted, kept in a compacted Kafka topic.

One record per row: key ``{"sheet": "<sheet id>", "tab": "<tab>", "row": "<row id>"}``
(JSON, so a ``/`` in a tab title cannot make two rows collide), value a small JSON
object with the row's content digest. Compaction keeps the latest digest per row, so
the topic stays about as large as the sheets it tracks, and a restart restores by
reading it to its end.

**No identifier is stored.** A row key may be a patient's medical record number and
the topic is compacted (kept for ever), so the topic holds only keyed hashes
(:class:`RowPseudonyms`, HMAC-SHA256 under the poller's row-key secret, the secret the
processors key sheet row keys with): the row id instead of the row key, and a keyed
digest of the content hash (an unkeyed hash of a short row could be reversed by
trying values). Comparing digests detects a change exactly as comparing hashes did.
Changing the secret makes every row look new once (plan it like a patient-key
rotation).

**Checkpoints of format 1** (raw row keys, until this release) are migrated by the
first ``load``: each is converted to its row id and digest (so nothing is emitted
again and nothing is lost), written in format 2, and then its old key is
tombstoned. The raw keys leave the log when compaction removes the tombstones
(after the active segment rolls and ``delete.retention.ms``; lower ``segment.ms`` on
the topic to hasten it). If the poller dies mid-migration the next ``load`` simply
migrates again. The topic (default ``health.gsheet.checkpoints.v1``) is created with
``cleanup.policy=compact`` when missing; an existing topic that is not compacted is
refused, because deleted checkpoints would re-emit whole sheets.

The poller calls ``load`` once at start and ``save`` after each poll, only once
Kafka has acknowledged that poll's rows; ``save`` returns only once Kafka has
acknowledged the checkpoint records too (DESIGN.md §5: commit after durable).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
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
    produce,
)
from daas.settings import Settings
from producers.gsheet.errors import CheckpointUnavailable

__all__ = [
    "DEFAULT_CHECKPOINT_TOPIC",
    "Checkpoint",
    "CheckpointEntry",
    "CheckpointStore",
    "KafkaCheckpointStore",
    "RowPseudonyms",
    "checkpoint_key",
]

_log = logging.getLogger(__name__)

DEFAULT_CHECKPOINT_TOPIC = "health.gsheet.checkpoints.v1"
_FORMAT_VERSION = 2
# Separate these HMACs from the others made with the same secret.
_ROW_DOMAIN = b"daas/gsheet/checkpoint-row/v2\n"
_CONTENT_DOMAIN = b"daas/gsheet/checkpoint-content/v2\n"

Checkpoint = dict[tuple[str, str], str]
"""(tab, row id) -> content digest of the version last emitted and acknowledged."""


@dataclass(frozen=True)
class CheckpointEntry:
    """One row's emitted version, as the poller saves it: keyed hashes only."""

    tab: str
    row_id: str  # RowPseudonyms.row(row key)
    content: str  # RowPseudonyms.content(content hash)


@dataclass(frozen=True)
class RowPseudonyms:
    """Keyed hashes that stand for a row key and a content hash in the checkpoint."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise ConfigurationError("the row-key secret (DAAS_PATIENT_KEY_SECRET) must be at least 16 characters")

    def _digest(self, domain: bytes, text: str) -> str:
        return hmac.new(self.secret, domain + text.encode(), hashlib.sha256).hexdigest()[:32]

    def row(self, row_key: str) -> str:
        """The row id: HMAC-SHA256 of the row key, the first 128 bits in hex."""
        return self._digest(_ROW_DOMAIN, row_key)

    def content(self, content_hash: str) -> str:
        """The content digest: HMAC-SHA256 of the content hash, the first 128 bits in hex."""
        return self._digest(_CONTENT_DOMAIN, content_hash)

    def entry(self, tab: str, row_key: str, content_hash: str) -> CheckpointEntry:
        return CheckpointEntry(tab, self.row(row_key), self.content(content_hash))


class CheckpointStore(Protocol):
    """Durable (tab, row id) -> content digest per spreadsheet."""

    def load(self, sheet_id: str) -> Checkpoint:
        """Everything saved for ``sheet_id``; called once before the first poll."""
        ...

    def save(self, sheet_id: str, entries: Sequence[CheckpointEntry]) -> None:
        """Make ``entries`` durable; return only when they are."""
        ...


def checkpoint_key(sheet_id: str, tab: str, row_id: str) -> bytes:
    """The Kafka key of one row's checkpoint record (``row_id``: ``RowPseudonyms.row``)."""
    return json.dumps({"sheet": sheet_id, "tab": tab, "row": row_id}, ensure_ascii=False,
                      separators=(",", ":")).encode()


def _legacy_key(sheet_id: str, tab: str, row_key: str) -> bytes:
    """A format-1 key, which held the raw row key (only ever tombstoned now)."""
    return json.dumps([sheet_id, tab, row_key], ensure_ascii=False, separators=(",", ":")).encode()


class KafkaCheckpointStore:
    """Checkpoints in a compacted topic; one instance per poller process.

    ``pseudonyms`` is needed to migrate format-1 checkpoints (the poller's
    ``RowPseudonyms``); without it, format-1 records are ignored with a warning.
    """

    def __init__(self, settings: Settings, topic: str = DEFAULT_CHECKPOINT_TOPIC, *,
                 pseudonyms: RowPseudonyms | None = None, partitions: int = 1,
                 restore_timeout: float = 60.0, flush_timeout: float = 60.0) -> None:
        self.topic = topic
        self._pseudonyms = pseudonyms
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
        """Read the topic from its beginning to its end; keep the latest digest per row of
        ``sheet_id``; migrate the sheet's format-1 records (see the module docstring)."""
        if not self._topic_checked:
            self.ensure_topic()
        consumer = create_consumer(self._settings, "daas-gsheet-checkpoint-restore",
                                   **{"enable.partition.eof": True})
        state: Checkpoint = {}
        legacy: dict[tuple[str, str], str | None] = {}  # (tab, raw row key) -> content hash; None: forgotten
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
                    self._apply(state, legacy, sheet_id, msg.key(), msg.value())
        except KafkaException as exc:
            raise CheckpointUnavailable(f"reading checkpoint topic {self.topic}: {exc}") from exc
        finally:
            consumer.close()
        if legacy:
            state = self._migrate(sheet_id, state, legacy)
        _log.info("checkpoint %s: %d rows of sheet %s restored from %d records", self.topic, len(state),
                  sheet_id, records)
        return state

    @staticmethod
    def _apply(state: Checkpoint, legacy: dict[tuple[str, str], str | None], sheet_id: str,
               key: bytes | None, value: bytes | None) -> None:
        try:
            parsed = json.loads(key or b"null")
            if isinstance(parsed, dict):
                key_sheet, tab, row, target = parsed["sheet"], parsed["tab"], parsed["row"], state
            else:  # format 1: [sheet, tab, raw row key]
                (key_sheet, tab, row), target = parsed, legacy
        except (ValueError, TypeError, KeyError):
            _log.warning("checkpoint record with an unreadable key skipped (its row may be re-emitted)")
            return
        if key_sheet != sheet_id:
            return
        if value is None:  # a tombstone forgets the row
            if target is legacy:
                legacy[(tab, row)] = None
            else:
                state.pop((tab, row), None)
            return
        try:
            body = json.loads(value)
            target[(tab, row)] = body["content"] if target is state else body["content_hash"]
        except (ValueError, TypeError, KeyError):
            _log.warning("checkpoint record in tab %r has an unreadable value; skipped (the row may be "
                         "re-emitted)", tab)

    def _migrate(self, sheet_id: str, state: Checkpoint,
                 legacy: dict[tuple[str, str], str | None]) -> Checkpoint:
        """Rewrite format-1 records as keyed hashes, then tombstone their raw keys."""
        if self._pseudonyms is None:
            _log.warning("checkpoint %s holds %d format-1 records of sheet %s (raw row keys) but this store has "
                         "no row-key secret to migrate them; their rows will be emitted again", self.topic,
                         len(legacy), sheet_id)
            return state
        p = self._pseudonyms
        converted = {(tab, p.row(row_key)): p.content(content_hash)
                     for (tab, row_key), content_hash in legacy.items() if content_hash is not None}
        # A format-2 record is always newer than a format-1 one for the same row.
        missing = [CheckpointEntry(tab, row_id, content) for (tab, row_id), content in converted.items()
                   if (tab, row_id) not in state]
        self.save(sheet_id, missing)
        self._tombstone([_legacy_key(sheet_id, tab, row_key) for tab, row_key in legacy])
        _log.warning("checkpoint %s: migrated %d format-1 records of sheet %s to keyed hashes and tombstoned "
                     "their raw row keys (compaction removes them from the log)", self.topic, len(legacy), sheet_id)
        return {**converted, **state}

    def _produce_all(self, records: Sequence[tuple[bytes, bytes | None]]) -> None:
        if self._producer is None:
            self._producer = create_producer(self._settings)
        report = DeliveryReport()
        for key, value in records:
            produce(self._producer, self.topic, key, value, on_delivery=report)
        flush_or_raise(self._producer, report, self._flush_timeout)

    def _tombstone(self, keys: Sequence[bytes]) -> None:
        self._produce_all([(key, None) for key in keys])

    def save(self, sheet_id: str, entries: Sequence[CheckpointEntry]) -> None:
        """Produce one record per entry and wait until Kafka acknowledged all of them."""
        if not entries:
            return
        if not self._topic_checked:
            self.ensure_topic()
        saved_at = datetime.now(tz=UTC).isoformat(timespec="milliseconds")
        self._produce_all([
            (checkpoint_key(sheet_id, entry.tab, entry.row_id),
             json.dumps({"v": _FORMAT_VERSION, "content": entry.content, "saved_at": saved_at}).encode())
            for entry in entries])
