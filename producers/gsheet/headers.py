"""Map the header row people type into a sheet onto the canonical cell names.

The processors read a SheetRow's ``cells`` by canonical name (``facility_id``,
``encounter_date``, ``icd10_code`` …, see ``stream_processors/transform.py``), while
clinic staff write "Facility ID", "Date of visit" or "Diagnosis (ICD-10)". Matching
ignores case, accents, spacing and punctuation and knows common synonyms (English,
plus the French used in the francophone countries the project serves). A header it
does not know is kept under a normalised snake_case name, so no column is dropped.

``map_headers`` is called by ``producers.gsheet.rows`` once per tab per poll.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

__all__ = [
    "CANONICAL_NAMES",
    "KEY_COLUMN",
    "canonical_name",
    "column_letter",
    "map_headers",
    "snake_case",
]

KEY_COLUMN = "row_id"

# Canonical name -> the header spellings it accepts. Each spelling is compared in its
# compact form (see _compact), so "Age (years)", "age_years" and "AGE YEARS" are one.
_SYNONYMS: Mapping[str, tuple[str, ...]] = {
    KEY_COLUMN: ("Record ID", "Row ID", "Encounter ID", "Record number", "ID de l'enregistrement"),
    "facility_id": ("Facility ID", "Facility", "Health facility code", "Facility code",
                    "Health facility", "Health facility ID", "Clinic ID", "Code établissement",
                    "Établissement"),
    "country_code": ("Country", "Country code", "Pays"),
    "region": ("Region", "State", "Province", "County", "Région"),
    "district": ("District", "LGA", "Local government area", "Health district",
                 "Zone de santé"),
    "encounter_date": ("Date", "Date of visit", "Encounter date", "Visit date",
                       "Consultation date", "Date de consultation", "Date de visite"),
    "patient_id": ("Patient ID", "MRN", "Patient number", "Patient no", "Medical record number",
                   "Numéro patient"),
    "national_id": ("National ID", "NIN", "ID number", "National ID number", "Numéro national"),
    "sex": ("Sex", "Gender", "Sexe"),
    "birth_date": ("DOB", "Date of birth", "Birth date", "Date de naissance"),
    "age_years": ("Age", "Age (years)", "Age in years", "Âge", "Âge (ans)"),
    "icd10_code": ("Diagnosis (ICD-10)", "ICD10", "ICD code", "ICD-10 code", "Diagnosis code",
                   "CIM-10", "Code CIM-10"),
    "certainty": ("Certainty", "Case status", "Case classification", "Statut du cas"),
    "severity": ("Severity", "Gravité"),
    "outcome": ("Outcome",),
    "given_name": ("First name", "Given name", "Forename", "Prénom"),
    "family_name": ("Surname", "Last name", "Family name", "Nom", "Nom de famille"),
    "phone": ("Phone", "Phone number", "Telephone", "Mobile", "Téléphone"),
    "email": ("Email", "E-mail", "Email address", "Courriel"),
    "address": ("Address", "Home address", "Street address", "Adresse"),
}

CANONICAL_NAMES: frozenset[str] = frozenset(_SYNONYMS)


def _fold(text: str) -> str:
    """Lower case without accents: "Âge" -> "age"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _compact(text: str) -> str:
    """Only the letters and digits of ``text``, folded: "Diagnosis (ICD-10)" -> "diagnosisicd10"."""
    return re.sub(r"[^0-9a-z]", "", _fold(text))


_LOOKUP: dict[str, str] = {}
for _name, _spellings in _SYNONYMS.items():
    for _spelling in (_name, *_spellings):
        _LOOKUP.setdefault(_compact(_spelling), _name)


def snake_case(text: str) -> str:
    """A header nobody mapped, as a stable cell name: "Weight (kg)" -> "weight_kg"."""
    return re.sub(r"[^0-9a-z]+", "_", _fold(text)).strip("_")


def canonical_name(header: str) -> str | None:
    """The canonical cell name ``header`` stands for, or None when it is not a known one."""
    return _LOOKUP.get(_compact(header))


def column_letter(index: int) -> str:
    """Spreadsheet column letters of a 0-based index: 0 -> "a", 26 -> "aa"."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


def map_headers(header_row: Sequence[str], width: int | None = None) -> list[str]:
    """The cell name of each column of a tab, for ``width`` columns (default: the header's).

    Known headers get their canonical name, others their snake_case form, and blank
    or punctuation-only headers ``column_<letter>``. When two columns end up with the
    same name, the later one gets ``_2``, ``_3`` …, so no value is overwritten.
    """
    width = len(header_row) if width is None else max(width, len(header_row))
    names: list[str] = []
    taken: set[str] = set()
    for index in range(width):
        text = header_row[index] if index < len(header_row) else ""
        name = canonical_name(text) or snake_case(text) or f"column_{column_letter(index)}"
        unique, n = name, 1
        while unique in taken:
            n += 1
            unique = f"{name}_{n}"
        taken.add(unique)
        names.append(unique)
    return names
