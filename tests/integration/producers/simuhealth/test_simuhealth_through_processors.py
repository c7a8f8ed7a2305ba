"""Contract: generated encounters pass the processors' validation and come out de-identified.

No services needed: records go through the project codec and the processors'
transform exactly as they would between the raw and clean topics.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from producers.simuhealth import Outbreak, SimuHealthGenerator
from schemas import SIMUHEALTH_ENCOUNTER, AvroCodec
from stream_processors.reference_view import load_reference
from stream_processors.transform import Context, Rejected, to_clean

NOW = datetime(2026, 2, 1, tzinfo=UTC)
IDENTIFIERS = ("patient_id", "national_id", "given_name", "family_name", "phone", "email", "address")


@pytest.fixture(scope="module")
def raw_and_clean() -> list[tuple[dict[str, Any], dict[str, Any] | Rejected]]:
    generator = SimuHealthGenerator(
        5, start=date(2025, 12, 1), end=date(2026, 1, 1),
        outbreaks=(Outbreak("cholera", "NG-KN-DAL", "2025W50", 2, 20.0),),
    )
    raw = list(generator.generate(5_000))
    facilities, icd10 = load_reference()
    context = Context(facilities=facilities, icd10=icd10, patient_secret=b"contract-test-secret", now=NOW)
    codec = AvroCodec()
    out = []
    for record, data in zip(raw, codec.encode_many(SIMUHEALTH_ENCOUNTER, raw), strict=True):
        decoded = codec.decode(data)
        out.append((record, to_clean(decoded.schema.name, decoded.record, ingested_at=NOW, ctx=context)))
    return out


def test_processors_accept_every_generated_encounter(raw_and_clean: list[tuple[dict[str, Any], Any]]) -> None:
    rejected = [(raw["encounter_id"], clean.reasons) for raw, clean in raw_and_clean if isinstance(clean, Rejected)]
    assert rejected == []


def test_clean_records_keep_geography_and_diagnosis(raw_and_clean: list[tuple[dict[str, Any], Any]]) -> None:
    for raw, clean in raw_and_clean:
        assert (clean["facility_id"], clean["district"], clean["icd10_code"], clean["severity"]) == (
            raw["facility_id"], raw["district"], raw["diagnosis"]["icd10_code"], raw["severity"])


def test_no_direct_identifier_survives_into_clean_records(raw_and_clean: list[tuple[dict[str, Any], Any]]) -> None:
    for raw, clean in raw_and_clean:
        text = " ".join(str(value) for value in clean.values())
        for field in IDENTIFIERS:
            value = raw["patient"][field]
            if value is not None and len(value) >= 6:
                assert value not in text, (field, value)
