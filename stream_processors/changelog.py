"""The de-duplication state's durable copy: one compacted changelog topic per input topic.

Partition ``p`` of ``<app id>-dedup-<input topic>`` holds the entries of input
partition ``p`` (key: record id; value: the entry, or a tombstone when it expired).
The worker writes a batch's entries with the batch — in its transaction under
exactly-once — and reads a partition back when it is assigned the input partition,
before it processes anything from it.
"""

from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from daas.errors import ConfigurationError, Retryable
from daas.kafka import TopicSpec, create_admin, create_consumer, ensure_topics
from daas.settings import Settings
from stream_processors.dedup import Seen, decode_entry

__all__ = ["ChangelogReader", "changelog_topic", "ensure_changelogs"]

# Compacted, with segments rolled often enough that compaction keeps up with expiry.
_CONFIG = {"cleanup.policy": "compact", "segment.ms": str(6 * 3600 * 1000), "min.compaction.lag.ms": "60000"}


def changelog_topic(app_id: str, input_topic: str) -> str:
    return f"{app_id}-dedup-{input_topic}"


def ensure_changelogs(settings: Settings, input_topics: list[str]) -> None:
    """Create each input topic's changelog with the input's partition count; refuse a mismatch.

    Called once at start-up; partition ``p`` of a changelog must be the state of
    partition ``p`` of its input, so the counts must agree.
    """
    admin = create_admin(settings)
    metadata = admin.list_topics(timeout=30).topics
    specs = []
    for topic in input_topics:
        if topic not in metadata or metadata[topic].error is not None:
            raise ConfigurationError(f"input topic {topic} does not exist; create the pipeline's topics with "
                                     "`daas topics create` (or check DAAS_TOPIC_RAW_*)")
        partitions = len(metadata[topic].partitions)
        name = changelog_topic(settings.processor_app_id, topic)
        existing = metadata.get(name)
        if existing is not None and len(existing.partitions) != partitions:
            raise ConfigurationError(
                f"changelog {name} has {len(existing.partitions)} partitions but its input {topic} has "
                f"{partitions}; the state of input partition p lives in changelog partition p, so recreate the "
                "changelog (the processor rebuilds it) or give the processor a new DAAS_PROCESSOR_APP_ID")
        specs.append(TopicSpec(name, partitions, _CONFIG))
    ensure_topics(admin, specs, replication_factor=settings.kafka_replication_factor)


class ChangelogReader:
    """Reads changelog partitions back, up to their last committed entry.

    One assign-only consumer (no group, nothing committed), reading committed data
    only: entries of a transaction that was aborted, or is still open, are not state.
    Partitions assigned together are read together.
    """

    def __init__(self, settings: Settings, timeout: float = 120.0) -> None:
        self._consumer = create_consumer(settings, f"{settings.processor_app_id}-restore",
                                         **{"enable.partition.eof": True, "fetch.wait.max.ms": 10})
        self._consumer.list_topics(timeout=30)  # connect now, not on the first restore
        self._timeout = timeout

    def read(self, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Seen]]:
        """Per ``(topic, partition)``: the last entry per record id, tombstoned ones left out."""
        consumer = self._consumer
        consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING) for topic, partition in partitions])
        entries: dict[tuple[str, int], dict[str, Seen]] = {tp: {} for tp in partitions}
        reading = set(partitions)
        deadline = time.monotonic() + self._timeout
        try:
            while reading:
                for msg in consumer.consume(10_000, timeout=0.05):
                    tp = (msg.topic(), msg.partition())
                    err = msg.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            reading.discard(tp)
                        elif err.fatal() or not err.retriable():
                            raise Retryable(f"reading changelog {tp[0]}[{tp[1]}]: {err.str()}")
                        continue
                    key, value = msg.key().decode(), msg.value()
                    if value is None:
                        entries[tp].pop(key, None)
                    else:
                        entries[tp][key] = decode_entry(value)
                if time.monotonic() > deadline:
                    raise Retryable(f"changelogs {sorted(reading)} not read to their end within {self._timeout:.0f}s")
        finally:
            consumer.unassign()
        return entries

    def close(self) -> None:
        self._consumer.close()
