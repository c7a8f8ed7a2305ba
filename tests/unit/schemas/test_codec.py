"""Round trips for every schema, both framings, and bytes the official Avro library reads."""

from __future__ import annotations

import io
import json
import struct
import uuid
from datetime import UTC, date, datetime

import avro.io
import avro.schema
import pytest
from avro.schema import _crc_64_fingerprint
from confluent_kafka.schema_registry._sync.mock_schema_registry_client import MockSchemaRegistryClient

from daas.errors import DecodeError, SchemaError
from schemas import CLEAN_ENCOUNTER, SHEET_ROW, SIMUHEALTH_ENCOUNTER, AvroCodec, SchemaStore
from schemas.codec import CONFLUENT_MAGIC, SINGLE_OBJECT_MAGIC
from schemas.store import crc64_avro

T0 = datetime(2026, 11, 23, 8, 30, 15, 123000, tzinfo=UTC)

SAMPLES = {
    SIMUHEALTH_ENCOUNTER: {
        "encounter_id": "NG-LA-IKJ-001-0000000042",
        "facility_id": "NG-LA-IKJ-001",
        "country_code": "NG",
        "region": "Lagos",
        "district": "Ikeja",
        "encounter_time": T0,
        "patient": {
            "patient_id": "MRN-884213",
            "national_id": "12345678901",
            "given_name": "Chiamaka",
            "family_name": "Okafor",
            "sex": "F",
            "birth_date": date(1991, 4, 2),
            "age_years": None,
            "phone": "+234 803 555 0142",
            "email": "c.okafor@example.ng",
            "address": "12 Allen Avenue, Ikeja",
        },
        "diagnosis": {"icd10_code": "B54", "description": "Unspecified malaria", "certainty": "confirmed"},
        "severity": "mild",
        "outcome": "treated",
        "produced_at": T0,
    },
    SHEET_ROW: {
        "sheet_id": "1AbCdEf",
        "tab": "Encounters",
        "row_number": 7,
        "row_key": "KE-NRB-0007",
        "content_hash": "ab" * 32,
        "polled_at": T0,
        "cells": {"facility_id": "KE-NB-KIB-002", "diagnosis": "J06.9", "sex": "m", "age": "4"},
    },
    CLEAN_ENCOUNTER: {
        "record_id": uuid.UUID("5f0c9a3e-3f7e-5b8c-9a51-0c6f4f3f2a11"),
        "source": "simuhealth",
        "source_key": "NG-LA-IKJ-001-0000000042",
        "source_version": 1795686802000,
        "patient_key": "9f" * 32,
        "sex": "female",
        "birth_year": 1991,
        "age_years": 35,
        "age_band": "35-44",
        "country_code": "NG",
        "region": "Lagos",
        "district": "Ikeja",
        "facility_id": "NG-LA-IKJ-001",
        "encounter_date": date(2026, 11, 23),
        "epi_week": "2026W48",
        "icd10_code": "B54",
        "icd10_name": "Unspecified malaria",
        "diagnosis_group": "malaria",
        "certainty": "confirmed",
        "severity": "mild",
        "outcome": "treated",
        "event_time": T0,
        "ingested_at": T0,
        "processed_at": T0,
    },
}


@pytest.fixture(scope="module")
def store() -> SchemaStore:
    return SchemaStore.default()


def test_every_schema_has_a_sample(store: SchemaStore) -> None:
    assert sorted(SAMPLES) == store.names()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_single_object_round_trip(name: str, store: SchemaStore) -> None:
    codec = AvroCodec(store)
    data = codec.encode(name, SAMPLES[name])
    assert data[:2] == SINGLE_OBJECT_MAGIC
    assert data[2:10] == store.current(name).fingerprint
    decoded = codec.decode(data)
    assert decoded.framing == "single-object"
    assert decoded.schema.name == name
    assert decoded.record == SAMPLES[name]
    assert codec.encode(name, decoded.record) == data  # byte-for-byte stable


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_official_avro_library_reads_project_bytes(name: str, store: SchemaStore) -> None:
    data = AvroCodec(store).encode(name, SAMPLES[name])
    schema = avro.schema.parse(json.dumps(store.current(name).raw))
    record = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(data[10:])))
    # The official library returns uuid logical values as text, fastavro as uuid.UUID.
    assert record == {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in SAMPLES[name].items()}
    # The header carries the spec's CRC-64-AVRO of the Parsing Canonical Form. (The
    # Python avro library keeps logical-type wrappers in its canonical form, unlike the
    # spec and the Java implementation, so we hash fastavro's spec-conform form with
    # the official library's own CRC-64 routine.)
    assert data[2:10] == _crc_64_fingerprint(store.current(name).canonical.encode())


def test_crc64_matches_the_reference_vector() -> None:
    # The Java implementation's SchemaNormalization.parsingFingerprint64("int") as little-endian bytes.
    assert crc64_avro(b'"int"') == _crc_64_fingerprint(b'"int"') == bytes.fromhex("8f5c393f1ad57572")


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_confluent_framing_with_a_registry(name: str, store: SchemaStore) -> None:
    registry = MockSchemaRegistryClient({"url": "mock://daas-test"})
    writer = AvroCodec(store, registry=registry)
    data = writer.encode(name, SAMPLES[name])
    assert data[:1] == CONFLUENT_MAGIC
    (schema_id,) = struct.unpack(">I", data[1:5])
    assert registry.get_schema(schema_id) is not None
    # A reader with the registry understands both framings.
    decoded = AvroCodec(store, registry=registry).decode(data)
    assert (decoded.framing, decoded.record) == ("confluent", SAMPLES[name])
    assert AvroCodec(store, registry=registry).decode(AvroCodec(store).encode(name, SAMPLES[name])).record == SAMPLES[name]


def test_confluent_bytes_without_registry_are_a_decode_error(store: SchemaStore) -> None:
    registry = MockSchemaRegistryClient({"url": "mock://daas-test-2"})
    data = AvroCodec(store, registry=registry).encode(SHEET_ROW, SAMPLES[SHEET_ROW])
    with pytest.raises(DecodeError, match="no schema registry"):
        AvroCodec(store).decode(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty value"),
        (b"{\"json\": true}", "unknown magic byte 0x7b"),
        (SINGLE_OBJECT_MAGIC + b"\x01\x02", "truncated single-object header"),
        (SINGLE_OBJECT_MAGIC + b"\xff" * 8 + b"\x00", "unknown writer schema .single-object fingerprint"),
    ],
)
def test_undecodable_values_name_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        AvroCodec().decode(data)


def test_truncated_and_padded_bodies_are_rejected(store: SchemaStore) -> None:
    data = AvroCodec(store).encode(SIMUHEALTH_ENCOUNTER, SAMPLES[SIMUHEALTH_ENCOUNTER])
    with pytest.raises(DecodeError, match="corrupt Avro body"):
        AvroCodec(store).decode(data[:-20])
    with pytest.raises(DecodeError, match="trailing bytes"):
        AvroCodec(store).decode(data + b"\x00\x00")


def test_encoding_a_record_that_does_not_fit_is_a_schema_error(store: SchemaStore) -> None:
    bad = dict(SAMPLES[SHEET_ROW], row_number="seven")
    with pytest.raises(SchemaError, match="sheet_row"):
        AvroCodec(store).encode(SHEET_ROW, bad)


def test_encode_many_matches_encode(store: SchemaStore) -> None:
    codec = AvroCodec(store)
    records = [dict(SAMPLES[SHEET_ROW], row_number=i) for i in range(5)]
    assert codec.encode_many(SHEET_ROW, records) == [codec.encode(SHEET_ROW, r) for r in records]
