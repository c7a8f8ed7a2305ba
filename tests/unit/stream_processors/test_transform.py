"""The skeleton's rules, normalisation and de-identification on hand-made records."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from daas.dead_letter import DeadLetter, Reason
from schemas import CLEAN_ENCOUNTER, SIMUHEALTH_ENCOUNTER, AvroCodec
from stream_processors import rules
from stream_processors.deidentify import age_band, record_id
from stream_processors.pipeline import InputMessage, Processor
from stream_processors.transform import Context, Rejected, to_clean
from tests.unit.schemas.test_codec import SAMPLES


@dataclass(frozen=True)
class Fac:
    facility_id: str
    country_code: str
    region: str
    district: str


@dataclass(frozen=True)
class Icd:
    code: str
    name: str
    group: str
    sexes: frozenset[str] = frozenset({"F", "M"})
    min_age: int = 0
    max_age: int = 120


NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
CTX = Context({"NG-LA-IKJ-001": Fac("NG-LA-IKJ-001", "NG", "Lagos", "Ikeja")},
              {"B54": Icd("B54", "Unspecified malaria", "malaria"),
               "O14.9": Icd("O14.9", "Pre-eclampsia, unspecified", "maternal", frozenset({"F"}), 12, 55)},
              b"k" * 32, NOW)
RAW = SAMPLES[SIMUHEALTH_ENCOUNTER]


def clean(raw: dict) -> dict | Rejected:
    return to_clean(SIMUHEALTH_ENCOUNTER, raw, ingested_at=NOW, ctx=CTX)


def codes(result: object) -> list[str]:
    assert isinstance(result, Rejected)
    return sorted(r.code for r in result.reasons)


def test_a_valid_encounter_becomes_a_clean_record_without_identifiers() -> None:
    out = clean(copy.deepcopy(RAW))
    assert isinstance(out, dict)
    assert out["record_id"] == record_id("simuhealth", RAW["encounter_id"])
    assert (out["sex"], out["age_years"], out["age_band"], out["birth_year"]) == ("female", 35, "35-44", 1991)
    assert (out["epi_week"], out["diagnosis_group"], out["country_code"]) == ("2026W48", "malaria", "NG")
    text = repr(out)
    for pii in ("Chiamaka", "Okafor", "12345678901", "+234 803 555 0142", "c.okafor@example.ng", "Allen Avenue"):
        assert pii not in text
    AvroCodec().encode(CLEAN_ENCOUNTER, out)


def test_the_patient_key_follows_the_national_id_not_the_facility() -> None:
    a = clean(copy.deepcopy(RAW))
    other = copy.deepcopy(RAW)
    other["patient"]["patient_id"] = "ANOTHER-MRN"
    other["patient"]["national_id"] = "123-456-789 01"
    assert a["patient_key"] == clean(other)["patient_key"]


@pytest.mark.parametrize(("change", "code"), [
    (lambda r: r["diagnosis"].update(icd10_code="ZZ9.9"), rules.ICD10_UNKNOWN),
    (lambda r: r["diagnosis"].update(icd10_code="malaria"), rules.ICD10_UNKNOWN),
    (lambda r: r["patient"].update(sex="X"), rules.SEX_NOT_ALLOWED),
    (lambda r: r.update(facility_id="NG-XX-000"), rules.FACILITY_UNKNOWN),
    (lambda r: r.update(region="Kano"), rules.GEOGRAPHY_MISMATCH),
    (lambda r: r.update(encounter_time=datetime(2027, 6, 1, tzinfo=UTC)), rules.DATE_IN_FUTURE),
    (lambda r: r.update(encounter_time=datetime(2015, 6, 1, tzinfo=UTC)), rules.DATE_TOO_OLD),
    (lambda r: r["patient"].update(birth_date=date(1890, 1, 1)), rules.AGE_OUT_OF_RANGE),
    (lambda r: r["patient"].update(birth_date=None, age_years=None), rules.REQUIRED_MISSING),
    (lambda r: r["patient"].update(patient_id="  "), rules.REQUIRED_MISSING),
    (lambda r: r.update(country_code=""), rules.REQUIRED_MISSING),
    (lambda r: r.update(district=" "), rules.REQUIRED_MISSING),
    (lambda r: r["patient"].update(birth_date=date(2028, 2, 1)), rules.BIRTH_DATE_AFTER_ENCOUNTER),
    (lambda r: r["diagnosis"].update(icd10_code="O14.9") or r["patient"].update(sex="M"),
     rules.DIAGNOSIS_IMPLAUSIBLE),
    (lambda r: r["diagnosis"].update(icd10_code="O14.9") or r["patient"].update(birth_date=date(1940, 1, 1)),
     rules.DIAGNOSIS_IMPLAUSIBLE),
    (lambda r: r["diagnosis"].update(icd10_code="O14.9") or r["patient"].update(birth_date=date(2023, 5, 1)),
     rules.DIAGNOSIS_IMPLAUSIBLE),
])
def test_each_rule_has_its_reason_code(change, code: str) -> None:  # noqa: ANN001
    raw = copy.deepcopy(RAW)
    change(raw)
    assert code in codes(clean(raw))


def test_implausible_records_name_what_is_wrong() -> None:
    man = copy.deepcopy(RAW)
    man["diagnosis"]["icd10_code"] = "O14.9"
    man["patient"].update(sex="M", birth_date=date(1946, 3, 1))
    reasons = clean(man).reasons
    assert [(r.code, r.field) for r in reasons] == [(rules.DIAGNOSIS_IMPLAUSIBLE, "icd10_code")]
    assert "male patient aged 80" in reasons[0].message and "sex F, ages 12-55" in reasons[0].message
    unborn = copy.deepcopy(RAW)
    unborn["patient"]["birth_date"] = date(2028, 2, 1)
    (reason,) = clean(unborn).reasons  # the birth date is named, not a negative age
    assert (reason.field, reason.message) == ("birth_date", "birth date 2028-02-01 is after the encounter date "
                                                            "2026-11-23")
    pregnant = copy.deepcopy(RAW)
    pregnant["diagnosis"]["icd10_code"] = "O14.9"
    assert clean(pregnant)["diagnosis_group"] == "maternal"


def test_ninety_and_over_collapse() -> None:
    raw = copy.deepcopy(RAW)
    raw["patient"]["birth_date"] = date(1931, 1, 1)
    out = clean(raw)
    assert (out["age_years"], out["age_band"], out["birth_year"]) == (90, "90+", None)
    assert [age_band(a) for a in (0, 4, 5, 89, 90, 120)] == ["0-4", "0-4", "5-14", "75-89", "90+", "90+"]


def test_the_pipeline_routes_clean_records_and_dead_letters_the_rest() -> None:
    codec = AvroCodec()
    bad = copy.deepcopy(RAW)
    bad["diagnosis"]["icd10_code"] = "ZZ9.9"
    msgs = [InputMessage("raw", 0, i, 1_795_000_000_000, b"k", v, [("trace_id", b"t")])
            for i, v in enumerate([codec.encode(SIMUHEALTH_ENCOUNTER, RAW),
                                   codec.encode(SIMUHEALTH_ENCOUNTER, bad), b"junk"])]
    proc = Processor(codec=codec, routes={"simuhealth": ["lake", "ops"]}, context=lambda: CTX)
    results = proc.process(msgs)
    outputs = [o for r in results for o in r.outputs]
    dead = [r.dead for r in results if r.dead is not None]
    assert [o.topic for o in outputs] == ["lake", "ops"]
    assert results[0].record["source_key"] == RAW["encounter_id"]
    assert outputs[0].headers == [("trace_id", b"t"), ("source", b"simuhealth")]
    assert codec.decode(outputs[0].value).record["source_key"] == RAW["encounter_id"]
    assert [(d.source_offset, d.reasons[0].code) for d in dead] == [(1, "icd10_unknown"), (2, "decode_error")]
    assert dead[1].value == b"junk"


def test_dead_letter_headers_carry_reasons_and_origin() -> None:
    letter = DeadLetter(b"k", b"v", [Reason("icd10_unknown", "no such code", "icd10_code")], "processor",
                        "raw", 2, 41, 1000, [("trace_id", b"t"), ("dlq.reason", b"stale")])
    headers = dict(letter.headers(now_ms=5))
    assert headers["trace_id"] == b"t"
    assert headers["dlq.reason"] == b"icd10_unknown"
    assert headers["dlq.reasons"] == b'[{"code":"icd10_unknown","field":"icd10_code","message":"no such code"}]'
    assert (headers["dlq.source.partition"], headers["dlq.source.offset"], headers["dlq.failed_at"]) == (b"2", b"41", b"5")
    assert len([k for k, _ in letter.headers() if k == "dlq.reason"]) == 1


def test_country_spellings_are_normalised_to_the_register() -> None:
    ctx = Context(CTX.facilities, CTX.icd10, CTX.patient_secret, NOW, {"nga": "ng", "nigeria": "ng"})
    for spelling in ("NG", "ng", "NGA", "Nigeria"):
        raw = copy.deepcopy(RAW)
        raw["country_code"] = spelling
        assert to_clean(SIMUHEALTH_ENCOUNTER, raw, ingested_at=NOW, ctx=ctx)["country_code"] == "NG"
    raw = copy.deepcopy(RAW)
    raw["country_code"] = "KEN"
    assert codes(to_clean(SIMUHEALTH_ENCOUNTER, raw, ingested_at=NOW, ctx=ctx)) == [rules.GEOGRAPHY_MISMATCH]


def test_the_same_patient_from_a_sheet_gets_the_same_key() -> None:
    from schemas import SHEET_ROW

    row = {"sheet_id": "1AbC", "tab": "Visits", "row_number": 3, "row_key": "R-3", "content_hash": "h",
           "polled_at": NOW, "cells": {
               "facility_id": "ng-la-ikj-001", "encounter_date": "2026-11-23", "patient_id": "SHEET-77",
               "national_id": "12345678901", "sex": "f", "age_years": "35", "icd10_code": "b54",
               "given_name": "Chiamaka", "phone": "+234 803 555 0142"}}
    sheet = to_clean(SHEET_ROW, row, ingested_at=NOW, ctx=CTX)
    ehr = clean(copy.deepcopy(RAW))
    assert sheet["patient_key"] == ehr["patient_key"]
    assert (sheet["source"], sheet["icd10_code"], sheet["facility_id"]) == ("gsheet", "B54", "NG-LA-IKJ-001")
    assert "Chiamaka" not in repr(sheet) and "555" not in repr(sheet)


def test_a_sheet_row_key_never_reaches_the_clean_record() -> None:
    """Clinics may key rows by the patient's record number: the source key carries a keyed hash of it."""
    from dataclasses import replace

    from schemas import SHEET_ROW

    mrn = "MRN-0042-IKJ"
    row = {"sheet_id": "1AbC", "tab": "Visits", "row_number": 3, "row_key": f" {mrn} ", "content_hash": "h",
           "polled_at": NOW, "cells": {
               "facility_id": "NG-LA-IKJ-001", "encounter_date": "2026-11-23", "patient_id": mrn,
               "sex": "m", "age_years": "7", "icd10_code": "B54"}}
    record = to_clean(SHEET_ROW, row, ingested_at=NOW, ctx=CTX)
    prefix, _, digest = record["source_key"].rpartition("/")
    assert prefix == "1AbC/Visits" and len(digest) == 32 and mrn not in repr(record)
    assert record["record_id"] == record_id("gsheet", record["source_key"])
    again = to_clean(SHEET_ROW, {**row, "row_key": mrn}, ingested_at=NOW, ctx=CTX)
    assert again["record_id"] == record["record_id"]  # stable per row, whatever the spacing
    other_secret = to_clean(SHEET_ROW, row, ingested_at=NOW, ctx=replace(CTX, patient_secret=b"another secret"))
    assert other_secret["source_key"] != record["source_key"]  # keyed: not a guessable plain hash
    assert codes(to_clean(SHEET_ROW, {**row, "row_key": "  "}, ingested_at=NOW, ctx=CTX)) == [rules.REQUIRED_MISSING]


@pytest.mark.parametrize(("encounter_id", "why"), [
    ("NG-LA-IKJ-001-00\x0042", "U+0000"),
    ("NG-LA-IKJ-001-\u202e2400", "U+202E"),
    ("x" * 200_000, "200000 characters long"),
])
def test_a_hostile_source_key_is_dead_lettered_naming_it(encounter_id: str, why: str) -> None:
    raw = copy.deepcopy(RAW)
    raw["encounter_id"] = encounter_id
    (reason,) = clean(raw).reasons
    assert (reason.code, reason.field) == (rules.INVALID_SOURCE_KEY, "encounter_id") and why in reason.message


def test_an_identifier_looking_encounter_id_never_reaches_the_clean_record_in_clear() -> None:
    for encounter_id in ("MRN-884213", "12345678901", "+234 803 555 0142", "'; drop table encounters; --"):
        raw = copy.deepcopy(RAW)
        raw["encounter_id"] = encounter_id
        out = clean(raw)
        assert out["source_key"].startswith("ehr/") and len(out["source_key"]) == 36
        assert encounter_id not in repr(out)
        assert clean(copy.deepcopy(raw))["record_id"] == out["record_id"]  # stable per encounter
    raw = copy.deepcopy(RAW)  # the documented shapes stay in clear: traceable to the EHR
    for encounter_id in (RAW["encounter_id"], "NG-LA-IKJ-001-257c895a-0000000042",
                         "5f0c9a3e-3f7e-5b8c-9a51-0c6f4f3f2a11"):
        raw["encounter_id"] = encounter_id
        assert clean(raw)["source_key"] == encounter_id
