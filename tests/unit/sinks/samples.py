"""Clean encounters and schema stores with an older or changed clean schema."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from schemas import CLEAN_ENCOUNTER, SchemaStore

T0 = datetime(2026, 11, 23, 8, 30, 15, 123000, tzinfo=UTC)


def clean(n: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid clean encounter (logical Python values), distinct per ``n``."""
    record = {
        "record_id": uuid.uuid5(uuid.NAMESPACE_URL, f"sample-{n}"),
        "source": "simuhealth", "source_key": f"NG-LA-IKJ-001-{n:010d}", "source_version": 1795686802000 + n,
        "patient_key": "9f" * 32, "sex": "female", "birth_year": 1991, "age_years": 35, "age_band": "35-44",
        "country_code": "NG", "region": "Lagos", "district": "Ikeja", "facility_id": "NG-LA-IKJ-001",
        "encounter_date": date(2026, 11, 23), "epi_week": "2026W48", "icd10_code": "B54",
        "icd10_name": "Unspecified malaria", "diagnosis_group": "malaria", "certainty": "confirmed",
        "severity": "mild", "outcome": "treated", "event_time": T0 + timedelta(seconds=n),
        "ingested_at": T0, "processed_at": T0,
    }
    record.update(overrides)
    return record


def current_schema() -> dict[str, Any]:
    return copy.deepcopy(SchemaStore.default().current(CLEAN_ENCOUNTER).raw)


def older_schema() -> dict[str, Any]:
    """A released-before version: no ``birth_year`` (the current schema's optional field)."""
    raw = current_schema()
    raw["fields"] = [f for f in raw["fields"] if f["name"] != "birth_year"]
    return raw


def store_with(directory: Path, current: dict[str, Any], *history: dict[str, Any]) -> SchemaStore:
    """A schema store whose current clean schema is ``current``, with ``history`` released before it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{CLEAN_ENCOUNTER}.avsc").write_text(json.dumps(current))
    versions = directory / "history" / CLEAN_ENCOUNTER
    versions.mkdir(parents=True, exist_ok=True)
    for n, raw in enumerate([*history, current], 1):
        (versions / f"v{n:04d}.avsc").write_text(json.dumps(raw))
    return SchemaStore(directory)
