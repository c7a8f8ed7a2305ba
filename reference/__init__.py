"""Reference data shared by producers and stream processors.

Three files under ``reference/data`` with cached, validated loaders:

- ``geography.json`` -> :func:`load_geography`: countries, regions, districts
  (population, malaria zone) and facilities; every facility resolves to
  country › region › district.
- ``icd10.csv`` -> :func:`load_icd10`: the ICD-10 codes the project ships, their
  diagnosis group and plausible sexes and ages.
- ``case_mix.json`` -> :func:`load_case_mix`: per-country outpatient case mix, age
  and sex mix, seasonality by malaria zone, and the sources of the figures.

See ``reference/README.md`` for the conventions (severe malaria, zones, limits).
"""

from reference.case_mix import (
    OUTCOMES,
    SEVERITIES,
    AgeBand,
    CaseMix,
    CountryCaseMix,
    DiagnosisGroup,
    MalariaZone,
    SevereShare,
    Source,
    load_case_mix,
)
from reference.errors import ReferenceDataError, UnknownReferenceError
from reference.geography import (
    FACILITY_TYPES,
    MALARIA_ZONES,
    Country,
    District,
    Facility,
    Geography,
    Region,
    load_geography,
)
from reference.icd10 import SEXES, Icd10Entry, load_icd10, normalise_icd10_code

__all__ = [
    "FACILITY_TYPES",
    "MALARIA_ZONES",
    "OUTCOMES",
    "SEVERITIES",
    "SEXES",
    "AgeBand",
    "CaseMix",
    "Country",
    "CountryCaseMix",
    "DiagnosisGroup",
    "District",
    "Facility",
    "Geography",
    "Icd10Entry",
    "MalariaZone",
    "ReferenceDataError",
    "Region",
    "SevereShare",
    "Source",
    "UnknownReferenceError",
    "load_case_mix",
    "load_geography",
    "load_icd10",
    "normalise_icd10_code",
]
