"""The codec's two modes: logical types as objects (the processor) or as primitives
(columnar sinks); both read both framings and project older schemas."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import MockSchemaRegistryClient

from daas.errors import DecodeError
from schemas import CLEAN_ENCOUNTER, AvroCodec
from tests.unit.sinks.samples import clean, current_schema, older_schema, store_with


def test_logical_mode_equals_the_codec_for_both_framings() -> None:
    record = clean(1)
    registry = MockSchemaRegistryClient({"url": "mock://sinks-decoding"})
    for codec in (AvroCodec(), AvroCodec(registry=registry)):
        data = codec.encode(CLEAN_ENCOUNTER, record)
        assert codec.decode_record(data) == codec.decode(data).record == record


def test_primitive_mode_reads_logical_types_as_their_primitives() -> None:
    record = clean(2)
    data = AvroCodec().encode(CLEAN_ENCOUNTER, record)
    raw = AvroCodec().with_logical_types(False).decode_record(data)
    assert raw["record_id"] == str(record["record_id"])
    assert raw["encounter_date"] == (record["encounter_date"] - record["encounter_date"].replace(1970, 1, 1)).days
    assert raw["event_time"] == int(record["event_time"].timestamp() * 1000)
    assert {k: v for k, v in raw.items() if k not in ("record_id", "encounter_date", "event_time",
                                                      "ingested_at", "processed_at")} == {
        k: v for k, v in record.items() if k not in ("record_id", "encounter_date", "event_time",
                                                     "ingested_at", "processed_at")}


@pytest.mark.parametrize("logical", [True, False])
def test_an_older_writer_schema_is_projected_onto_the_current_one(tmp_path: Path, logical: bool) -> None:
    old = older_schema()
    writer = AvroCodec(store_with(tmp_path / "writer", old))
    reader_store = store_with(tmp_path / "reader", current_schema(), old)
    record = clean(3)
    data = writer.encode(CLEAN_ENCOUNTER, {k: v for k, v in record.items() if k != "birth_year"})
    decoded = AvroCodec(reader_store).with_logical_types(logical).decode_record(data)
    assert sorted(decoded) == sorted(f["name"] for f in current_schema()["fields"])
    assert decoded["birth_year"] is None
    if logical:
        assert decoded == {**record, "birth_year": None}


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty value"),
    (b"\xc3\x01abc", "truncated single-object header"),
    (b"\xc3\x01" + b"\x00" * 8 + b"x", "unknown writer schema .single-object fingerprint"),
    (b"\x00\x00\x00\x00\x07x", "no schema registry"),
    (b"{json}", "unknown magic byte 0x7b"),
])
def test_undecodable_values_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        AvroCodec().decode_record(data)


def test_trailing_and_corrupt_bodies_are_decode_errors() -> None:
    data = AvroCodec().encode(CLEAN_ENCOUNTER, clean(4))
    with pytest.raises(DecodeError, match="trailing bytes"):
        AvroCodec().decode_record(data + b"\x00")
    with pytest.raises(DecodeError, match="corrupt Avro body"):
        AvroCodec().decode_record(data[:40])


def test_with_a_registry_an_unknown_writer_version_is_fetched_and_resolved(tmp_path: Path) -> None:
    """A producer upgraded before the reader: with a registry, the reader fetches the writer's
    schema by id and projects the record onto its own current version instead of failing."""
    import json
    import shutil

    from schemas import SIMUHEALTH_ENCOUNTER, SchemaStore
    from schemas.store import SCHEMA_DIR
    from tests.unit.schemas.test_codec import SAMPLES

    released = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, released, ignore=shutil.ignore_patterns("*.py", "__pycache__", "*.md"))
    newer = json.loads((released / f"{SIMUHEALTH_ENCOUNTER}.avsc").read_text())
    newer["fields"].append({"name": "visit_type", "type": ["null", "string"], "default": None})
    (released / f"{SIMUHEALTH_ENCOUNTER}.avsc").write_text(json.dumps(newer))
    (released / "history" / SIMUHEALTH_ENCOUNTER / "v0099.avsc").write_text(json.dumps(newer))
    registry = MockSchemaRegistryClient({"url": "mock://unknown-writer"})
    data = AvroCodec(SchemaStore(released), registry).encode(SIMUHEALTH_ENCOUNTER,
                                                             {**SAMPLES[SIMUHEALTH_ENCOUNTER], "visit_type": "follow-up"})
    decoded = AvroCodec(registry=registry).decode(data)
    assert decoded.schema.name == SIMUHEALTH_ENCOUNTER and decoded.framing == "confluent"
    assert decoded.record == SAMPLES[SIMUHEALTH_ENCOUNTER]  # projected: the field this reader lacks is dropped
    with pytest.raises(DecodeError, match="unknown writer schema"):
        AvroCodec().decode(AvroCodec(SchemaStore(released)).encode(SIMUHEALTH_ENCOUNTER, SAMPLES[SIMUHEALTH_ENCOUNTER]))
