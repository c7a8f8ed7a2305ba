"""De-identification: keyed patient pseudonyms, coarse ages, deterministic record ids.

Called by the transforms for every record; nothing here does I/O.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import uuid
from datetime import date

__all__ = ["RECORD_NAMESPACE", "age_band", "age_on", "ehr_source_key", "normalise_patient_identifier", "patient_key",
           "record_id", "sheet_source_key"]

# Fixed namespace for record ids: changing it would change every record_id.
RECORD_NAMESPACE = uuid.UUID("6f1d3a52-8c1e-5b0a-9d57-2f9d1c4b7e10")

_BANDS = ((0, 4, "0-4"), (5, 14, "5-14"), (15, 24, "15-24"), (25, 34, "25-34"), (35, 44, "35-44"),
          (45, 54, "45-54"), (55, 64, "55-64"), (65, 74, "65-74"), (75, 89, "75-89"))
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
_SEQUENCE = re.compile(r"^(?:[0-9a-f]{8}-)?[0-9]{1,12}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


_NAMESPACE_BYTES = RECORD_NAMESPACE.bytes


def record_id(source: str, source_key: str) -> str:
    """UUIDv5 of source + source key, in its canonical text form: a re-sent record gets the same id.

    ``uuid.uuid5`` computed by hand (SHA-1 of namespace and name, version and variant
    bits set): the same value at a third of the cost, on every record of the hot path.
    """
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{source}\x1f{source_key}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def ehr_source_key(secret: bytes, encounter_id: str, facility_id: str) -> str:
    """The clean record's ``source_key`` for an EHR encounter id.

    An id of the documented shape — the facility id, a dash, an optional 8-hex-digit
    run id and a sequence number (``NG-LA-IKJ-001-257c895a-0000000042``), or a UUID —
    identifies an encounter, not a person, and stays in clear so the warehouse can be
    traced back to the EHR. Anything else might carry a record number, a phone
    number or a name: it is replaced by a keyed hash (``ehr/`` + HMAC-SHA256, first
    128 bits), stable per encounter.
    """
    prefix = facility_id + "-"
    if (encounter_id.upper().startswith(prefix) and _SEQUENCE.match(encounter_id[len(prefix):])) or \
            _UUID.match(encounter_id):
        return encounter_id
    digest = hmac.new(secret, f"daas/ehr/source-key/v1\n{encounter_id}".encode(), hashlib.sha256).hexdigest()
    return f"ehr/{digest[:32]}"


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


@functools.lru_cache(maxsize=8)
def _keyed(secret: bytes) -> hmac.HMAC:
    """An HMAC-SHA256 with the key already absorbed; copies of it hash each identifier."""
    return hmac.new(secret, digestmod=hashlib.sha256)


def patient_key(secret: bytes, identifier: str) -> str:
    """HMAC-SHA256 (hex) of the normalised identifier: stable, not reversible without the secret."""
    keyed = _keyed(secret).copy()
    keyed.update(identifier.encode())
    return keyed.hexdigest()


def age_on(birth: date, day: date) -> int:
    """Whole years between a birth date and a day."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def age_band(age_years: int) -> str:
    """Surveillance age band; 90 and over collapse into one band."""
    for low, high, label in _BANDS:
        if low <= age_years <= high:
            return label
    return "90+"
