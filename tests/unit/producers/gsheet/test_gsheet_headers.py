"""Header text typed by clinic staff maps onto the canonical cell names the processors read."""

from __future__ import annotations

import pytest

from producers.gsheet.headers import canonical_name, column_letter, map_headers, snake_case

BRIEF_SYNONYMS = [
    ("Facility ID", "facility_id"), ("facility", "facility_id"), ("Health facility code", "facility_id"),
    ("Date", "encounter_date"), ("Date of visit", "encounter_date"), ("Encounter date", "encounter_date"),
    ("Diagnosis (ICD-10)", "icd10_code"), ("ICD10", "icd10_code"), ("icd code", "icd10_code"),
    ("Gender", "sex"), ("Sex", "sex"),
    ("Age", "age_years"), ("Age (years)", "age_years"),
    ("DOB", "birth_date"), ("Date of birth", "birth_date"),
    ("Patient ID", "patient_id"), ("MRN", "patient_id"), ("Patient number", "patient_id"),
    ("National ID", "national_id"), ("NIN", "national_id"), ("ID number", "national_id"),
    ("First name", "given_name"), ("Given name", "given_name"),
    ("Surname", "family_name"), ("Last name", "family_name"),
    ("Phone", "phone"), ("Email", "email"), ("Address", "address"), ("Country", "country_code"),
    ("Region", "region"), ("State", "region"), ("Province", "region"), ("County", "region"),
    ("District", "district"), ("LGA", "district"),
    ("Outcome", "outcome"), ("Severity", "severity"), ("Certainty", "certainty"), ("Case status", "certainty"),
    ("Record ID", "row_id"), ("Row ID", "row_id"), ("Encounter ID", "row_id"),
]


@pytest.mark.parametrize(("header", "expected"), BRIEF_SYNONYMS)
def test_common_headers_map_to_canonical_names(header: str, expected: str) -> None:
    assert canonical_name(header) == expected


@pytest.mark.parametrize("header", ["  FACILITY   id ", "facility_id", "Facility-ID", "facility.id", "FacilityId"])
def test_matching_ignores_case_spacing_and_punctuation(header: str) -> None:
    assert canonical_name(header) == "facility_id"


@pytest.mark.parametrize(("header", "expected"), [("Sexe", "sex"), ("Âge (ans)", "age_years"),
                                                  ("Date de naissance", "birth_date"), ("Code CIM-10", "icd10_code")])
def test_french_headers_and_accents(header: str, expected: str) -> None:
    assert canonical_name(header) == expected


def test_canonical_names_map_to_themselves() -> None:
    assert canonical_name("icd10_code") == "icd10_code"
    assert canonical_name("encounter_date") == "encounter_date"


@pytest.mark.parametrize(("header", "expected"), [("Weight (kg)", "weight_kg"), ("  Referred To  ", "referred_to"),
                                                  ("Température °C", "temperature_c"), ("HIV status?", "hiv_status")])
def test_unknown_headers_keep_a_snake_case_name(header: str, expected: str) -> None:
    assert canonical_name(header) is None
    assert snake_case(header) == expected


def test_map_headers_names_every_column_without_collisions() -> None:
    names = map_headers(["Record ID", "Facility", "Facility ID", "", "Weight (kg)", "?!"], width=8)
    assert names == ["row_id", "facility_id", "facility_id_2", "column_d", "weight_kg", "column_f",
                     "column_g", "column_h"]


@pytest.mark.parametrize(("index", "letters"), [(0, "a"), (25, "z"), (26, "aa"), (51, "az"), (701, "zz"), (702, "aaa")])
def test_column_letters(index: int, letters: str) -> None:
    assert column_letter(index) == letters
