"""De-identification: keyed patient pseudonyms, coarse ages, deterministic record ids.

Called by the transforms for every record; nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from datetime import date

__all__ = ["RECORD_NAMESPACE", "age_band", "age_on", "normalise_patient_identifier", "patient_key", "record_id",
           "sheet_source_key"]

# Fixed namespace for record ids: changing it would change every record_id.
RECORD_NAMESPACE = uuid.UUID("6f1d3a52-8c1e-5b0a-9d57-2f9d1c4b7e10")

_BANDS = ((0, 4, "0-4"), (5, 14, "5-14"), (15, 24, "15-24"), (25, 34, "25-34"), (35, 44, "35-44"),
          (45, 54, "45-54"), (55, 64, "55-64"), (65, 74, "65-74"), (75, 89, "75-89"))
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")


def record_id(source: str, source_key: str) -> uuid.UUID:
    """UUIDv5 of source + source key: a re-sent record gets the same id."""
    return uuid.uuid5(RECORD_NAMESPACE, f"{source}\x1f{source_key}")


def sheet_source_key(secret: bytes, sheet_id: str, tab: str, row_key: str) -> str:
    """``sheet/tab/`` and a keyed hash of the row key; empty when the row has no key.

    Clinics key their rows however they like, and some use the patient's record
    number: the row key is hashed (HMAC-SHA256, first 128 bits) so that it never
    reaches the clean topics or the warehouse, while staying stable per row.
    """
    row_key = row_key.strip()
    if not row_key:
        return ""
    digest = hmac.new(secret, f"daas/gsheet/source-key/v1\n{row_key}".encode(), hashlib.sha256).hexdigest()
    return f"{sheet_id}/{tab}/{digest[:32]}"


def normalise_patient_identifier(country_code: str, national_id: str | None,
                                 facility_id: str, patient_id: str) -> str:
    """The identifier the patient key is derived from, the same whichever source sent it.

    The national id (upper-cased, separators removed, scoped by country) identifies a
    person across facilities and sources; without one, the facility's own patient
    number scoped by facility is the best we have.
    """
    if national_id and _NOT_ALNUM.sub("", national_id.upper()):
        return f"nid:{country_code.upper()}:{_NOT_ALNUM.sub('', national_id.upper())}"
    return f"mrn:{facility_id.strip().upper()}:{_NOT_ALNUM.sub('', patient_id.upper())}"


def patient_key(secret: bytes, identifier: str) -> str:
    """HMAC-SHA256 (hex) of the normalised identifier: stable, not reversible without the secret."""
    return hmac.new(secret, identifier.encode(), hashlib.sha256).hexdigest()


def age_on(birth: date, day: date) -> int:
    """Whole years between a birth date and a day."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def age_band(age_years: int) -> str:
    """Surveillance age band; 90 and over collapse into one band."""
    for low, high, label in _BANDS:
        if low <= age_years <= high:
            return label
    return "90+"
