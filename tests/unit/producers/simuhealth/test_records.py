"""Every generated record fits the raw schema, resolves in the reference and carries realistic identifiers."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Any

from fastavro.validation import validate_many

from producers.simuhealth.identifiers import PHONE_COUNTRY_CODES, luhn_check_digit, luhn_valid
from reference import load_geography, load_icd10
from schemas import SIMUHEALTH_ENCOUNTER, AvroCodec

from .support import age_at_encounter, parsed_schema

Records = list[dict[str, Any]]
NATIONAL_ID = {
    "NG": re.compile(r"[1-9]\d{10}"),
    "KE": re.compile(r"[1-3]\d{7}"),
    "GH": re.compile(r"GHA-(\d{9})-(\d)"),
    "UG": re.compile(r"C([FM])(\d{2})\d{5}[A-Z0-9]{5}"),
    "ZA": re.compile(r"(\d{6})(\d{4})([01])8\d"),
    "CD": re.compile(r"[1-9]\d{9}"),
}
NATIONAL_NUMBER_DIGITS = {"NG": 10, "KE": 9, "GH": 9, "UG": 9, "ZA": 9, "CD": 9}
EMAIL = re.compile(r"[a-z0-9]+(\.[a-z0-9]+)*@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}")


def test_every_record_validates_against_the_avro_schema(year_sample: Records) -> None:
    assert validate_many(year_sample, parsed_schema(), raise_errors=True)


def test_records_have_exactly_the_schema_fields(year_sample: Records) -> None:
    schema = parsed_schema()
    top = [f["name"] for f in schema["fields"]]
    nested = {f["name"]: [g["name"] for g in f["type"]["fields"]] for f in schema["fields"]
              if isinstance(f["type"], dict) and f["type"].get("type") == "record"}
    for record in year_sample[:1_000]:
        assert list(record) == top
        for name, fields in nested.items():
            assert list(record[name]) == fields


def test_records_survive_the_project_codec_unchanged(year_sample: Records) -> None:
    codec = AvroCodec()
    sample = year_sample[:2_000]
    decoded = [codec.decode(data).record for data in codec.encode_many(SIMUHEALTH_ENCOUNTER, sample)]
    assert decoded == sample


def test_every_facility_resolves_to_its_country_region_and_district(year_sample: Records) -> None:
    facilities = load_geography().facilities
    for record in year_sample:
        facility = facilities[record["facility_id"]]
        assert (record["country_code"], record["region"], record["district"]) == (
            facility.country_code, facility.region, facility.district)


def test_diagnoses_are_reference_codes_with_their_names(year_sample: Records) -> None:
    icd = load_icd10()
    for record in year_sample:
        diagnosis = record["diagnosis"]
        assert diagnosis["description"] == icd[diagnosis["icd10_code"]].name
        assert diagnosis["certainty"] in ("suspected", "confirmed")
        assert record["severity"] in ("mild", "moderate", "severe")
        assert record["outcome"] in ("treated", "referred", "admitted", "died")


def test_dispensaries_refer_rather_than_admit(year_sample: Records) -> None:
    facilities = load_geography().facilities
    outcomes = {r["outcome"] for r in year_sample if facilities[r["facility_id"]].type == "dispensary"}
    assert "admitted" not in outcomes and "referred" in outcomes


def test_encounter_ids_are_unique(year_sample: Records) -> None:
    assert len({r["encounter_id"] for r in year_sample}) == len(year_sample)
    assert all(r["encounter_id"].startswith(r["facility_id"] + "-") for r in year_sample)


def test_either_birth_date_or_age_is_sent(year_sample: Records) -> None:
    for record in year_sample:
        patient = record["patient"]
        assert (patient["birth_date"] is None) != (patient["age_years"] is None)
        if patient["birth_date"] is not None:
            assert patient["birth_date"] <= record["encounter_time"].date()
        assert 0 <= age_at_encounter(record) <= 120
    assert sum(r["patient"]["birth_date"] is None for r in year_sample) / len(year_sample) > 0.05


def test_returning_patients_keep_their_identity(year_sample: Records) -> None:
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    returns = 0
    for record in year_sample:
        patient = {k: v for k, v in record["patient"].items() if k != "age_years"}
        key = (record["facility_id"], patient["patient_id"])
        if key in seen:
            returns += 1
            assert seen[key] == patient
        seen[key] = patient
    assert returns / len(year_sample) > 0.05


def test_national_ids_follow_each_country_format(year_sample: Records) -> None:
    counts: defaultdict[str, int] = defaultdict(int)
    for record in year_sample:
        patient, country = record["patient"], record["country_code"]
        nid = patient["national_id"]
        if nid is None:
            continue
        counts[country] += 1
        match = NATIONAL_ID[country].fullmatch(nid)
        assert match, (country, nid)
        birth = patient["birth_date"]
        if country == "ZA":
            assert luhn_valid(nid)
            assert birth is not None and match[1] == f"{birth:%y%m%d}"
            assert (int(match[2]) >= 5000) == (patient["sex"] == "M")
        elif country == "UG":
            assert match[1] == patient["sex"]
            if birth is not None:
                assert match[2] == f"{birth:%y}"
        elif country == "GH":
            assert int(match[2]) == luhn_check_digit(match[1])
    assert set(counts) == set(NATIONAL_ID)


def test_phones_emails_and_addresses_look_local(year_sample: Records) -> None:
    geography = load_geography()
    with_phone = with_email = with_address = 0
    for record in year_sample:
        patient, country = record["patient"], record["country_code"]
        if patient["phone"] is not None:
            with_phone += 1
            compact = patient["phone"].replace(" ", "")
            digits = NATIONAL_NUMBER_DIGITS[country]
            assert re.fullmatch(rf"(\+{PHONE_COUNTRY_CODES[country]}|0)\d{{{digits}}}", compact), patient["phone"]
        if patient["email"] is not None:
            with_email += 1
            assert EMAIL.fullmatch(patient["email"]), patient["email"]
        if patient["address"] is not None:
            with_address += 1
            district = geography.districts[geography.facilities[record["facility_id"]].district_id]
            assert any(place in patient["address"] for place in (*district.localities, district.name))
    total = len(year_sample)
    assert with_phone / total > 0.5 and 0.02 < with_email / total < 0.2 and with_address / total > 0.4


def test_names_come_from_the_region_naming_tradition(year_sample: Records) -> None:
    northern_uganda = [r["patient"] for r in year_sample if r["facility_id"].startswith("UG-N-")]
    luo_prefix = sum(p["family_name"][0] in "OA" for p in northern_uganda) / len(northern_uganda)
    assert luo_prefix > 0.7
    kano = {r["patient"]["family_name"] for r in year_sample if r["facility_id"].startswith("NG-KN-")}
    assert {"Abubakar", "Bello", "Garba"} & kano


def test_timestamps_are_utc_and_millisecond_precise(year_sample: Records) -> None:
    for record in year_sample[:5_000]:
        for name in ("encounter_time", "produced_at"):
            moment: datetime = record[name]
            assert moment.utcoffset() is not None and moment.utcoffset().total_seconds() == 0
            assert moment.microsecond % 1000 == 0
