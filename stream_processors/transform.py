"""Raw records (SimuHealth encounters, sheet rows) to clean, de-identified encounters.

``to_clean`` is called by the pipeline for every decoded record. It validates with
the rules, normalises (ISO codes, UTC, ISO epi week, diagnosis group) and
de-identifies; it returns either the clean record or every reason it was rejected.
Names, phones, e-mails, national ids and street addresses are read only to derive
the patient key and are never copied into the output.

It runs once per record on the processor's hot path, so the common case — a valid
record whose values are already clean — takes the short way: exact matches before
case-folding, lookups cached per facility and per day, and no per-field helper calls.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from daas.dead_letter import Reason
from schemas.store import SHEET_ROW, SIMUHEALTH_ENCOUNTER
from stream_processors import rules
from stream_processors.deidentify import (
    age_band,
    age_on,
    ehr_source_key,
    normalise_patient_identifier,
    patient_key,
    record_id,
    sheet_source_key,
)

__all__ = ["Context", "Facility", "IcdEntry", "Rejected", "to_clean"]

_SEX = {"f": "female", "female": "female", "w": "female", "m": "male", "male": "male"}
_CERTAINTY = {"suspected": "suspected", "confirmed": "confirmed", "probable": "suspected"}
_SEVERITY = {"mild": "mild", "moderate": "moderate", "severe": "severe"}
_OUTCOME = {"treated": "treated", "referred": "referred", "admitted": "admitted", "died": "died", "dead": "died"}


class Facility(Protocol):
    facility_id: str
    country_code: str
    region: str
    district: str


class IcdEntry(rules.DiagnosisLimits, Protocol):
    code: str
    name: str
    group: str


@dataclass(frozen=True)
class Context:
    """What a transform needs besides the record: reference data, the key, the clock."""

    facilities: Mapping[str, Facility]
    icd10: Mapping[str, IcdEntry]
    patient_secret: bytes
    now: datetime
    # Other spellings of a country (ISO alpha-3, English name), case-folded -> alpha-2.
    country_aliases: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejected:
    """A record that broke rules; the reasons go into the dead-letter headers."""

    reasons: list[Reason]


_REQUIRED = ("source_key", "facility_id", "event_time", "patient_id", "sex", "icd10_code")
# A sheet without these columns is fine (the facility register knows them); a value
# that is there must not be blank.
_GEOGRAPHY = ("country_code", "region", "district")
_AGE_BANDS = tuple(age_band(a) for a in range(121))


def _text(value: Any) -> str:
    if type(value) is str:
        return value.strip()
    return "" if value is None else str(value).strip()


def _canonical(source: str, raw: dict[str, Any], secret: bytes) -> dict[str, Any]:
    """Flatten either raw shape into one set of fields (still untrusted)."""
    if source == SIMUHEALTH_ENCOUNTER:
        patient, diagnosis = raw["patient"], raw["diagnosis"]
        return {
            "source": "simuhealth",
            "source_key": raw["encounter_id"],
            "source_version": int(raw["encounter_time"].timestamp() * 1000),
            "facility_id": raw["facility_id"], "country_code": raw["country_code"],
            "region": raw["region"], "district": raw["district"],
            "event_time": raw["encounter_time"],
            "patient_id": patient["patient_id"], "national_id": patient["national_id"],
            "sex": patient["sex"], "birth_date": patient["birth_date"], "age_years": patient["age_years"],
            "icd10_code": diagnosis["icd10_code"], "certainty": diagnosis["certainty"],
            "severity": raw["severity"], "outcome": raw["outcome"],
        }
    cells = raw["cells"]
    return {
        "source": "gsheet",
        "source_key": sheet_source_key(secret, raw["sheet_id"], raw["tab"], raw["row_key"]),
        "source_version": int(raw["polled_at"].timestamp() * 1000),
        "facility_id": cells.get("facility_id"), "country_code": cells.get("country_code"),
        "region": cells.get("region"), "district": cells.get("district"),
        "event_time": cells.get("encounter_date"),
        "patient_id": cells.get("patient_id"), "national_id": cells.get("national_id"),
        "sex": cells.get("sex"), "birth_date": cells.get("birth_date"), "age_years": cells.get("age_years"),
        "icd10_code": cells.get("icd10_code"), "certainty": cells.get("certainty") or "suspected",
        "severity": cells.get("severity") or "unknown", "outcome": cells.get("outcome") or "unknown",
    }


def _missing(f: dict[str, Any]) -> list[Reason]:
    reasons = []
    for name in _REQUIRED:
        value = f[name]
        if value is None or (type(value) is str and not value.strip()):
            reasons.append(Reason(rules.REQUIRED_MISSING, f"{name} is required", name))
    for name in _GEOGRAPHY:
        value = f[name]
        if type(value) is str and not value.strip():
            reasons.append(Reason(rules.REQUIRED_MISSING, f"{name} is blank (leave the column out, or fill it)",
                                  name))
    return reasons


def _unsafe_keys(schema_name: str, raw: dict[str, Any]) -> list[Reason]:
    """Keys the clean record carries or derives from: bounded and printable (``rules.check_key_text``).

    A sheet's row key is hashed before it goes anywhere, so it is only bounded.
    """
    if schema_name == SIMUHEALTH_ENCOUNTER:
        return rules.check_key_text(raw["encounter_id"], "encounter_id")
    return (rules.check_key_text(raw["sheet_id"], "sheet_id") + rules.check_key_text(raw["tab"], "tab", max_length=100)
            + rules.check_key_text(raw["row_key"], "row_key", max_length=1024, printable=False))


def _as_datetime(value: Any, field: str, reasons: list[Reason]) -> datetime | None:
    if isinstance(value, datetime):
        if value.tzinfo is UTC:
            return value
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(_text(value))
    except ValueError:
        reasons.append(Reason(rules.INVALID_VALUE, f"{value!r} is not an ISO date or timestamp", field))
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _as_int(value: Any, field: str, reasons: list[Reason]) -> int | None:
    if type(value) is int:
        return value
    if value is None or _text(value) == "":
        return None
    try:
        return int(_text(value))
    except ValueError:
        reasons.append(Reason(rules.INVALID_VALUE, f"{value!r} is not a whole number", field))
        return None


def _enum(value: Any, allowed: Mapping[str, str], field: str, code: str, reasons: list[Reason],
          default: str | None = None) -> str | None:
    text = _text(value).lower()
    found = allowed.get(text)
    if found is not None:
        return found
    if default is not None and text in ("", "unknown"):
        return default
    reasons.append(Reason(code, f"{value!r} is not one of {sorted(set(allowed))}", field))
    return None


@functools.lru_cache(maxsize=4096)
def _epi_week(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}W{iso.week:02d}"


def _geography(f: dict[str, Any], facility: Facility, facility_id: str, aliases: Mapping[str, str],
               reasons: list[Reason]) -> None:
    """What the record says of country, region and district must agree with the register (when it says it)."""
    for name in _GEOGRAPHY:
        sent = f[name]
        expected = getattr(facility, name)
        if sent is None or sent == expected:  # the usual case: spelled as the register spells it
            continue
        folded = _text(sent).casefold()
        if name == "country_code":
            folded = aliases.get(folded, folded)
        if folded and folded != expected.casefold():
            reasons.append(Reason(rules.GEOGRAPHY_MISMATCH, f"{name} {_text(sent)!r} does not match the register's "
                                  f"{expected!r} for {facility_id}", name))


def _age(f: dict[str, Any], day: date, reasons: list[Reason]) -> tuple[int | None, int | None]:
    """The patient's age on ``day`` and birth year, from the birth date or else the age given;
    ``(None, None)``, with the reasons appended, when neither gives a plausible age."""
    birth = f["birth_date"]
    if birth not in (None, "") and not isinstance(birth, date):
        birth_dt = _as_datetime(birth, "birth_date", reasons)
        birth = birth_dt.date() if birth_dt else None
    age = birth_year = None
    if isinstance(birth, date):
        birth_reasons = rules.check_birth_date(birth, day)
        reasons += birth_reasons
        if not birth_reasons:
            age, birth_year = age_on(birth, day), birth.year
    else:
        age = _as_int(f["age_years"], "age_years", reasons)
        if age is not None:
            birth_year = day.year - age
    if age is None:
        if not any(r.field in ("birth_date", "age_years") for r in reasons):
            reasons.append(Reason(rules.REQUIRED_MISSING, "birth date or age is required", "age_years"))
        return None, None
    age_reasons = rules.check_age(age)
    reasons += age_reasons
    return (None, None) if age_reasons else (age, birth_year)


def to_clean(schema_name: str, raw: dict[str, Any], *, ingested_at: datetime | int,
             ctx: Context) -> dict[str, Any] | Rejected:
    """The clean encounter for one decoded raw record, or why it cannot be one.

    ``ingested_at`` is copied as given: a datetime, or epoch milliseconds as on the wire.
    """
    if schema_name not in (SIMUHEALTH_ENCOUNTER, SHEET_ROW):
        return Rejected([Reason(rules.UNSUPPORTED_RECORD, f"processors do not read {schema_name} records")])
    f = _canonical(schema_name, raw, ctx.patient_secret)
    reasons = _missing(f) or _unsafe_keys(schema_name, raw)
    if reasons:
        return Rejected(reasons)

    event_time = _as_datetime(f["event_time"], "encounter_date", reasons)
    sex = _enum(f["sex"], _SEX, "sex", rules.SEX_NOT_ALLOWED, reasons)
    certainty = _enum(f["certainty"], _CERTAINTY, "certainty", rules.INVALID_VALUE, reasons)
    severity = _enum(f["severity"], _SEVERITY, "severity", rules.INVALID_VALUE, reasons, default="unknown")
    outcome = _enum(f["outcome"], _OUTCOME, "outcome", rules.INVALID_VALUE, reasons, default="unknown")
    code = _text(f["icd10_code"]).upper()
    icd = ctx.icd10.get(code)  # every code of the reference list is well-formed
    if icd is None:
        reasons += rules.check_icd10_format(code)
        if not reasons:
            reasons.append(Reason(rules.ICD10_UNKNOWN, f"{code} is not in the project's ICD-10 reference list",
                                  "icd10_code"))

    facility_id = _text(f["facility_id"]).upper()
    facility = ctx.facilities.get(facility_id)
    if facility is None:
        reasons.append(Reason(rules.FACILITY_UNKNOWN, f"{facility_id} is not in the facility register", "facility_id"))
    else:
        _geography(f, facility, facility_id, ctx.country_aliases, reasons)

    age = birth_year = None
    if event_time is not None:
        day = event_time.date()
        reasons += rules.check_encounter_date(day, ctx.now.date())
        age, birth_year = _age(f, day, reasons)
        if age is not None and icd is not None and sex is not None:
            reasons += rules.check_plausible(code, sex, age, icd)

    if reasons or event_time is None or facility is None or icd is None or age is None:
        return Rejected(reasons)

    identifier = normalise_patient_identifier(facility.country_code, _text(f["national_id"]) or None,
                                              facility_id, _text(f["patient_id"]))
    source_key = f["source_key"]
    if schema_name == SIMUHEALTH_ENCOUNTER:
        source_key = ehr_source_key(ctx.patient_secret, source_key, facility_id)
    return {
        "record_id": record_id(f["source"], source_key),
        "source": f["source"],
        "source_key": source_key,
        "source_version": f["source_version"],
        "patient_key": patient_key(ctx.patient_secret, identifier),
        "sex": sex,
        "birth_year": None if age >= 90 else birth_year,
        "age_years": min(age, 90),
        "age_band": _AGE_BANDS[age],
        "country_code": facility.country_code,
        "region": facility.region,
        "district": facility.district,
        "facility_id": facility_id,
        "encounter_date": day,
        "epi_week": _epi_week(day),
        "icd10_code": code,
        "icd10_name": icd.name,
        "diagnosis_group": icd.group,
        "certainty": certainty,
        "severity": severity,
        "outcome": outcome,
        "event_time": event_time,
        "ingested_at": ingested_at,
        "processed_at": ctx.now,
    }
