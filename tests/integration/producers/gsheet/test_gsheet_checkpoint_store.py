"""The checkpoint store: a compacted topic, read back to its end on start."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from confluent_kafka.admin import ConfigResource, ResourceType

from daas.errors import ConfigurationError
from daas.kafka import DeliveryReport, TopicSpec, create_admin, create_producer, ensure_topics, flush_or_raise
from producers.gsheet.checkpoint import CheckpointEntry, KafkaCheckpointStore, checkpoint_key
from tests.support.endpoints import Endpoints


def _cleanup_policy(endpoints: Endpoints, topic: str) -> str:
    resource = ConfigResource(ResourceType.TOPIC, topic)
    admin = create_admin(endpoints.settings())  # kept referenced until the future resolves
    configs = admin.describe_configs([resource])[resource].result(timeout=30)
    return configs["cleanup.policy"].value


def test_a_missing_topic_is_created_compacted_and_restores_empty(
        endpoints: Endpoints, unique_name: Callable[[str], str]) -> None:
    topic = unique_name("ckpt")
    store = KafkaCheckpointStore(endpoints.settings(), topic)
    assert store.load("sheet-1") == {}
    assert _cleanup_policy(endpoints, topic) == "compact"


def test_a_topic_that_deletes_instead_of_compacting_is_refused(
        endpoints: Endpoints, unique_name: Callable[[str], str]) -> None:
    topic = unique_name("ckpt")
    ensure_topics(create_admin(endpoints.settings()), [TopicSpec(topic, 1, {"cleanup.policy": "delete"})])
    with pytest.raises(ConfigurationError, match="cleanup.policy=delete.*DAAS_TOPIC_GSHEET_CHECKPOINTS"):
        KafkaCheckpointStore(endpoints.settings(), topic).load("sheet-1")


def test_latest_hash_per_row_wins_across_partitions_and_sheets(
        endpoints: Endpoints, unique_name: Callable[[str], str]) -> None:
    topic = unique_name("ckpt")
    settings = endpoints.settings()
    ensure_topics(create_admin(settings), [TopicSpec(topic, 3, {"cleanup.policy": "compact"})])
    store = KafkaCheckpointStore(settings, topic)
    store.save("sheet-1", [CheckpointEntry("OPD", f"R{i}", f"h{i}-v1") for i in range(200)])
    store.save("sheet-1", [CheckpointEntry("OPD", "R7", "h7-v2"),
                           CheckpointEntry("a/b", "c", "slash-in-tab"), CheckpointEntry("a", "b/c", "slash-in-key")])
    store.save("sheet-2", [CheckpointEntry("OPD", "R7", "other-sheet")])
    # A tombstone (as an operator would send to forget a row) removes it on restore.
    producer, report = create_producer(settings), DeliveryReport()
    producer.produce(topic, key=checkpoint_key("sheet-1", "OPD", "R9"), value=None, on_delivery=report)
    flush_or_raise(producer, report)

    restored = KafkaCheckpointStore(settings, topic).load("sheet-1")
    expected = {("OPD", f"R{i}"): f"h{i}-v1" for i in range(200) if i != 9}
    expected |= {("OPD", "R7"): "h7-v2", ("a/b", "c"): "slash-in-tab", ("a", "b/c"): "slash-in-key"}
    assert restored == expected
    assert KafkaCheckpointStore(settings, topic).load("sheet-2") == {("OPD", "R7"): "other-sheet"}


def test_undecodable_records_are_skipped_not_fatal(endpoints: Endpoints, unique_name: Callable[[str], str]) -> None:
    topic = unique_name("ckpt")
    settings = endpoints.settings()
    store = KafkaCheckpointStore(settings, topic)
    store.save("sheet-1", [CheckpointEntry("OPD", "R1", "h1")])
    producer, report = create_producer(settings), DeliveryReport()
    producer.produce(topic, key=b"not json", value=b"{}", on_delivery=report)
    producer.produce(topic, key=checkpoint_key("sheet-1", "OPD", "R2"), value=b"garbage", on_delivery=report)
    flush_or_raise(producer, report)
    assert KafkaCheckpointStore(settings, topic).load("sheet-1") == {("OPD", "R1"): "h1"}
