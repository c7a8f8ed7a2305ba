"""Validation rules with stable reason codes (the dead-letter contract relies on them).

A rule never raises for bad data: it returns the violations it found, so a record
can be dead-lettered with every reason at once.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Protocol

from daas.dead_letter import Reason

__all__ = [
    "AGE_OUT_OF_RANGE",
    "BIRTH_DATE_AFTER_ENCOUNTER",
    "CODES",
    "DATE_IN_FUTURE",
    "DATE_TOO_OLD",
    "DECODE_ERROR",
    "DIAGNOSIS_IMPLAUSIBLE",
    "DiagnosisLimits",
    "FACILITY_UNKNOWN",
    "GEOGRAPHY_MISMATCH",
    "ICD10_UNKNOWN",
    "INVALID_VALUE",
    "REQUIRED_MISSING",
    "SEX_NOT_ALLOWED",
    "UNSUPPORTED_RECORD",
    "check_age",
    "check_birth_date",
    "check_encounter_date",
    "check_icd10_format",
    "check_plausible",
    "check_required",
]

DECODE_ERROR = "decode_error"
UNSUPPORTED_RECORD = "unsupported_record"
REQUIRED_MISSING = "required_missing"
INVALID_VALUE = "invalid_value"
DATE_IN_FUTURE = "encounter_date_in_future"
DATE_TOO_OLD = "encounter_date_too_old"
AGE_OUT_OF_RANGE = "age_out_of_range"
SEX_NOT_ALLOWED = "sex_not_allowed"
ICD10_UNKNOWN = "icd10_unknown"
FACILITY_UNKNOWN = "facility_unknown"
GEOGRAPHY_MISMATCH = "geography_mismatch"
BIRTH_DATE_AFTER_ENCOUNTER = "birth_date_after_encounter"
DIAGNOSIS_IMPLAUSIBLE = "diagnosis_implausible"
CODES = (DECODE_ERROR, UNSUPPORTED_RECORD, REQUIRED_MISSING, INVALID_VALUE, DATE_IN_FUTURE,
         DATE_TOO_OLD, AGE_OUT_OF_RANGE, SEX_NOT_ALLOWED, ICD10_UNKNOWN, FACILITY_UNKNOWN,
         GEOGRAPHY_MISMATCH, BIRTH_DATE_AFTER_ENCOUNTER, DIAGNOSIS_IMPLAUSIBLE)

_ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")
OLDEST_PLAUSIBLE_ENCOUNTER = timedelta(days=5 * 365)


def check_required(values: dict[str, object], fields: tuple[str, ...]) -> list[Reason]:
    return [
        Reason(REQUIRED_MISSING, f"{name} is required", name)
        for name in fields
        if values.get(name) is None or (isinstance(values.get(name), str) and not str(values[name]).strip())
    ]


def check_encounter_date(day: date, today: date) -> list[Reason]:
    if day > today:
        return [Reason(DATE_IN_FUTURE, f"encounter date {day} is after today ({today})", "encounter_date")]
    if today - day > OLDEST_PLAUSIBLE_ENCOUNTER:
        return [Reason(DATE_TOO_OLD, f"encounter date {day} is more than 5 years ago", "encounter_date")]
    return []


def check_birth_date(birth: date, encounter: date) -> list[Reason]:
    if birth > encounter:
        return [Reason(BIRTH_DATE_AFTER_ENCOUNTER, f"birth date {birth} is after the encounter date {encounter}",
                       "birth_date")]
    return []


class DiagnosisLimits(Protocol):
    """Who a diagnosis is plausible for (``reference.Icd10Entry``)."""

    sexes: frozenset[str]  # "F", "M"
    min_age: int
    max_age: int


def check_plausible(code: str, sex: str, age_years: int, limits: DiagnosisLimits) -> list[Reason]:
    """A diagnosis the reference rules out for the patient's sex or age (a pregnancy at 80, or for a man)."""
    if ("F" if sex == "female" else "M") in limits.sexes and limits.min_age <= age_years <= limits.max_age:
        return []
    return [Reason(DIAGNOSIS_IMPLAUSIBLE, f"{code} is not plausible for a {sex} patient aged {age_years} "
                   f"(the reference allows sex {'/'.join(sorted(limits.sexes))}, ages {limits.min_age}-"
                   f"{limits.max_age})", "icd10_code")]


def check_age(age_years: int) -> list[Reason]:
    if 0 <= age_years <= 120:
        return []
    return [Reason(AGE_OUT_OF_RANGE, f"age {age_years} is outside 0-120", "age_years")]


def check_icd10_format(code: str) -> list[Reason]:
    if _ICD10.match(code):
        return []
    return [Reason(ICD10_UNKNOWN, f"{code!r} is not an ICD-10 code (e.g. B54, A01.0)", "icd10_code")]
