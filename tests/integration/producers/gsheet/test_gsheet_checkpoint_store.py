"""The checkpoint store: a compacted topic of keyed hashes, read back to its end on start;
format-1 checkpoints (raw row keys) migrated without re-emitting or losing a row."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition
from confluent_kafka.admin import ConfigResource, ResourceType
from pydantic import SecretStr

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
from daas.settings import Settings, Topics
from producers.gsheet import GSheetConfig, build_poller
from producers.gsheet.checkpoint import CheckpointEntry, KafkaCheckpointStore, RowPseudonyms, checkpoint_key
from producers.gsheet.rows import key_rows
from tests.support.endpoints import Endpoints

SECRET = "checkpoint-test-row-key-secret-0123"
MRNS = [f"MRN-{i:06d}" for i in (104233, 118790, 250001)]  # row keys a clinic typed: record numbers


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


def _read_all(settings: Settings, topic: str) -> list[tuple[bytes, bytes | None]]:
    """Every record of the topic, keys and values as stored."""
    consumer = create_consumer(settings, f"{topic}-reader", **{"enable.partition.eof": True})
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    pending, out = set(parts), []
    try:
        while pending:
            for msg in consumer.consume(500, timeout=5):
                if msg.error() is not None:
                    assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                    pending.discard(msg.partition())
                    continue
                out.append((msg.key(), msg.value()))
    finally:
        consumer.close()
    return out


def _sheet(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["Record ID", "Facility ID", "Patient ID", "Date of visit",
                                       "Diagnosis (ICD-10)", "Sex", "Age (years)"], *rows])


def _rows(outcome_age: int = 30) -> list[list[str]]:
    return [[mrn, "KE-NBI-WES-001", mrn, "2026-03-02", "B54", "F", str(outcome_age + i)]
            for i, mrn in enumerate(MRNS)]


def _poller(endpoints: Endpoints, unique_name: Callable[[str], str], sheet: Path, checkpoint_topic: str):  # noqa: ANN202
    raw = unique_name("raw")
    ensure_topics(create_admin(endpoints.settings()), [TopicSpec(raw, 1, {"cleanup.policy": "delete"})])
    settings = endpoints.settings(topics=Topics(raw_gsheet=raw))
    config = GSheetConfig(row_key_secret=SecretStr(SECRET), local_path=sheet, checkpoint_topic=checkpoint_topic)
    return settings, lambda: build_poller(settings, config)


def test_the_checkpoint_topic_holds_no_row_key_and_still_detects_changes(
        endpoints: Endpoints, unique_name: Callable[[str], str], tmp_path: Path) -> None:
    sheet, topic = tmp_path / "opd.csv", unique_name("ckpt")
    _sheet(sheet, _rows())
    settings, new_poller = _poller(endpoints, unique_name, sheet, topic)
    poller = new_poller()
    assert poller.poll_once().new == 3
    _sheet(sheet, _rows(outcome_age=40)[:1] + _rows()[1:])  # one row edited
    assert (poller.poll_once().changed, poller.poll_once().emitted) == (1, 0)
    poller.producer.close()
    restarted = new_poller()  # restores from the topic: nothing new to emit
    assert restarted.poll_once().emitted == 0
    restarted.producer.close()

    stored = _read_all(settings, topic)
    assert len(stored) == 4
    hashes = {r.content_hash for r in key_rows("opd", list(csv.reader(sheet.open(encoding="utf-8"))),
                                                secret=SECRET.encode()).rows}
    for key, value in stored:
        text = key.decode() + (value or b"").decode()
        assert not any(mrn in text for mrn in MRNS), text  # no row key, in the key or the value
        assert not any(h in text for h in hashes), text  # no unkeyed content hash either
    p = RowPseudonyms(SECRET.encode())
    assert {json.loads(k)["row"] for k, _ in stored} == {p.row(mrn) for mrn in MRNS}


def test_format_1_checkpoints_are_migrated_without_emitting_again(
        endpoints: Endpoints, unique_name: Callable[[str], str], tmp_path: Path) -> None:
    sheet, topic = tmp_path / "opd.csv", unique_name("ckpt")
    _sheet(sheet, _rows())
    settings, new_poller = _poller(endpoints, unique_name, sheet, topic)
    # What the poller of the previous release left: raw row keys in keys and values.
    rows = key_rows("opd", list(csv.reader(sheet.open(encoding="utf-8"))), secret=SECRET.encode()).rows
    ensure_topics(create_admin(settings), [TopicSpec(topic, 1, {"cleanup.policy": "compact"})])
    producer, report = create_producer(settings), DeliveryReport()
    for row in rows[:2]:  # the third row was never emitted
        producer.produce(topic, key=json.dumps(["opd.csv", "opd", row.row_key], separators=(",", ":")).encode(),
                         value=json.dumps({"v": 1, "sheet_id": "opd.csv", "tab": "opd", "row_key": row.row_key,
                                           "content_hash": row.content_hash}).encode(), on_delivery=report)
    flush_or_raise(producer, report)

    poller = new_poller()
    result = poller.poll_once()
    assert (result.new, result.changed, result.unchanged) == (1, 0, 2)  # nothing re-emitted, nothing lost
    poller.producer.close()

    latest: dict[bytes, bytes | None] = {}
    for key, value in _read_all(settings, topic):
        latest[key] = value
    legacy = [k for k in latest if isinstance(json.loads(k), list)]
    assert len(legacy) == 2 and all(latest[k] is None for k in legacy)  # tombstoned: compaction removes them
    live = {k: v for k, v in latest.items() if v is not None}
    assert len(live) == 3
    assert not any(mrn in (k + v).decode() for k, v in live.items() for mrn in MRNS)
    again = new_poller()  # restores from format 2 alone
    assert again.poll_once().emitted == 0
    again.producer.close()


def test_undecodable_records_are_skipped_not_fatal(endpoints: Endpoints, unique_name: Callable[[str], str]) -> None:
    topic = unique_name("ckpt")
    settings = endpoints.settings()
    store = KafkaCheckpointStore(settings, topic)
    store.save("sheet-1", [CheckpointEntry("OPD", "R1", "h1")])
    producer, report = create_producer(settings), DeliveryReport()
    producer.produce(topic, key=b"not json", value=b"{}", on_delivery=report)
    producer.produce(topic, key=b'{"sheet": "sheet-1"}', value=b"{}", on_delivery=report)
    producer.produce(topic, key=checkpoint_key("sheet-1", "OPD", "R2"), value=b"garbage", on_delivery=report)
    flush_or_raise(producer, report)
    assert KafkaCheckpointStore(settings, topic).load("sheet-1") == {("OPD", "R1"): "h1"}
