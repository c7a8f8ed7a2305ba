"""Helpers the SimuHealth tests share: ages, groups and zones of generated records, Avro bytes."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_writer

from reference import load_geography, load_icd10

SCHEMA_PATH = Path(__file__).resolve().parents[4] / "schemas" / "simuhealth_encounter.avsc"
YEAR_START = date(2025, 1, 1)
YEAR_END = date(2026, 1, 1)


@cache
def parsed_schema() -> Any:
    """The raw SimuHealth schema, parsed by fastavro."""
    return parse_schema(json.loads(SCHEMA_PATH.read_text()))


def age_at_encounter(record: dict[str, Any]) -> int:
    """Age in whole years on the (UTC) encounter date, as the processors compute it."""
    patient = record["patient"]
    birth: date | None = patient["birth_date"]
    if birth is None:
        age: int = patient["age_years"]
        return age
    day = record["encounter_time"].date()
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def group_of(record: dict[str, Any]) -> str:
    """The diagnosis group of the record's ICD-10 code."""
    return load_icd10()[record["diagnosis"]["icd10_code"]].group


def zone_of(record: dict[str, Any]) -> str:
    """The malaria zone of the record's district."""
    geography = load_geography()
    return geography.districts[geography.facilities[record["facility_id"]].district_id].malaria_zone


def district_id_of(record: dict[str, Any]) -> str:
    """The reference id of the record's district."""
    return load_geography().facilities[record["facility_id"]].district_id


def avro_bytes(records: Iterable[dict[str, Any]]) -> bytes:
    """All records encoded back to back with fastavro's schemaless writer."""
    buffer = io.BytesIO()
    schema = parsed_schema()
    for record in records:
        schemaless_writer(buffer, schema, record)
    return buffer.getvalue()
