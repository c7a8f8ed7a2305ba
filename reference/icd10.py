"""The ICD-10 codes the project ships (``data/icd10.csv``) with their plausibility limits.

Each code carries its diagnosis group (what surveillance counts), the sexes and
ages it is plausible for (pregnancy codes: F, 12-55) and whether the code itself
denotes a severe form (B50.0/B50.8 severe falciparum malaria, E43 severe
malnutrition). Processors look codes up with ``load_icd10()[code]``.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from reference._files import read_text
from reference.errors import ReferenceDataError

__all__ = ["SEXES", "Icd10Entry", "load_icd10", "normalise_icd10_code"]

SEXES = ("F", "M")
_FILE = "icd10.csv"
_COLUMNS = ["code", "name", "diagnosis_group", "sexes", "min_age", "max_age", "severe"]
_CODE = re.compile(r"^[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?$")
_LOOSE = re.compile(r"^([A-Z][0-9]{2})\.?([0-9A-Z]{0,4})$")


@dataclass(frozen=True, slots=True)
class Icd10Entry:
    """One ICD-10 code: its WHO title, diagnosis group and who it is plausible for."""

    code: str
    name: str
    group: str
    sexes: frozenset[str]
    min_age: int
    max_age: int
    severe: bool

    def allows(self, sex: str, age_years: int) -> bool:
        """Whether the code is plausible for a patient of this sex and age (whole years)."""
        return sex in self.sexes and self.min_age <= age_years <= self.max_age


def normalise_icd10_code(raw: str) -> str:
    """``b509`` / `` B50.9 `` -> ``B50.9``; a value that cannot be a code is returned upper-cased."""
    text = raw.strip().upper()
    match = _LOOSE.match(text)
    if not match:
        return text
    head, tail = match.groups()
    return f"{head}.{tail}" if tail else head


@functools.cache
def load_icd10() -> Mapping[str, Icd10Entry]:
    """Code -> entry, in file order, parsed and checked once per process."""
    reader = csv.DictReader(io.StringIO(read_text(_FILE)))
    if reader.fieldnames != _COLUMNS:
        raise ReferenceDataError(f"{_FILE} must have the columns {','.join(_COLUMNS)}, got {reader.fieldnames}")
    entries: dict[str, Icd10Entry] = {}
    for line, row in enumerate(reader, start=2):
        code = row["code"]
        where = f"{_FILE} line {line}"
        if not _CODE.match(code) or code in entries:
            raise ReferenceDataError(f"{where}: {code!r} is not a new ICD-10 code such as B54 or B50.9")
        sexes = frozenset(row["sexes"])
        if not sexes or not sexes <= set(SEXES) or len(row["sexes"]) != len(sexes):
            raise ReferenceDataError(f"{where}: sexes {row['sexes']!r} must be F, M or FM")
        try:
            min_age, max_age = int(row["min_age"]), int(row["max_age"])
        except ValueError as exc:
            raise ReferenceDataError(f"{where}: min_age and max_age must be whole years") from exc
        if not 0 <= min_age <= max_age <= 120:
            raise ReferenceDataError(f"{where}: ages {min_age}-{max_age} must lie within 0-120")
        if row["severe"] not in ("true", "false"):
            raise ReferenceDataError(f"{where}: severe must be true or false, got {row['severe']!r}")
        if not row["name"] or not row["diagnosis_group"]:
            raise ReferenceDataError(f"{where}: name and diagnosis_group are required")
        entries[code] = Icd10Entry(
            code=code, name=row["name"], group=row["diagnosis_group"], sexes=sexes,
            min_age=min_age, max_age=max_age, severe=row["severe"] == "true",
        )
    return MappingProxyType(entries)
