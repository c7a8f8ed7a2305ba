"""Validation rules; their reason codes are the dead-letter contract's (``daas.dead_letter``).

A rule never raises for bad data: it returns the violations it found, so a record
can be dead-lettered with every reason at once. The codes are re-exported here for
the processor's modules.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Protocol

from daas.dead_letter import (
    AGE_OUT_OF_RANGE,
    BIRTH_DATE_AFTER_ENCOUNTER,
    DATE_IN_FUTURE,
    DATE_TOO_OLD,
    DECODE_ERROR,
    DIAGNOSIS_IMPLAUSIBLE,
    FACILITY_UNKNOWN,
    GEOGRAPHY_MISMATCH,
    ICD10_UNKNOWN,
    INVALID_SOURCE_KEY,
    INVALID_VALUE,
    REQUIRED_MISSING,
    SEX_NOT_ALLOWED,
    TOO_LARGE,
    UNKNOWN_SCHEMA,
    UNSUPPORTED_RECORD,
    Reason,
)

__all__ = [
    "AGE_OUT_OF_RANGE",
    "BIRTH_DATE_AFTER_ENCOUNTER",
    "DATE_IN_FUTURE",
    "DATE_TOO_OLD",
    "DECODE_ERROR",
    "DIAGNOSIS_IMPLAUSIBLE",
    "DiagnosisLimits",
    "FACILITY_UNKNOWN",
    "GEOGRAPHY_MISMATCH",
    "ICD10_UNKNOWN",
    "INVALID_SOURCE_KEY",
    "INVALID_VALUE",
    "MAX_KEY_LENGTH",
    "REQUIRED_MISSING",
    "SEX_NOT_ALLOWED",
    "TOO_LARGE",
    "UNKNOWN_SCHEMA",
    "UNSUPPORTED_RECORD",
    "check_age",
    "check_birth_date",
    "check_encounter_date",
    "check_icd10_format",
    "check_key_text",
    "check_plausible",
]


_ICD10 = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")
OLDEST_PLAUSIBLE_ENCOUNTER = timedelta(days=5 * 365)


# Control characters, zero-width and bidirectional-override characters: invisible or
# misleading in any screen or log that shows a key (U+202E turns "exe.doc" around).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]")
MAX_KEY_LENGTH = 128


def check_key_text(value: str, field: str, *, max_length: int = MAX_KEY_LENGTH, printable: bool = True) -> list[Reason]:
    """An identifier a source keys its records by: bounded and (unless it is only ever hashed)
    printable, without invisible or bidirectional-override characters."""
    if len(value) > max_length:
        return [Reason(INVALID_SOURCE_KEY, f"{field} is {len(value)} characters long; at most {max_length}", field)]
    found = _UNSAFE.search(value) if printable else None
    if found:
        return [Reason(INVALID_SOURCE_KEY, f"{field} contains the control or formatting character "
                       f"U+{ord(found.group()):04X} at position {found.start()}", field)]
    return []


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
