"""The shipped ICD-10 list: well-formed codes with sex and age limits that make sense."""

from __future__ import annotations

import re

import pytest

from reference import ReferenceDataError, load_case_mix, load_icd10, normalise_icd10_code
from reference import icd10 as icd10_module

REQUIRED_GROUPS = {"malaria", "respiratory", "diarrhoeal", "hiv", "tuberculosis", "hypertension", "diabetes",
                   "maternal", "injury", "skin", "typhoid", "meningitis", "cholera", "measles", "urinary", "other"}


def test_codes_are_icd10_shaped_and_groups_cover_surveillance_needs() -> None:
    icd = load_icd10()
    assert all(re.fullmatch(r"[A-Z][0-9]{2}(\.[0-9A-Z]{1,4})?", code) for code in icd)
    assert {entry.group for entry in icd.values()} >= REQUIRED_GROUPS
    assert icd["B54"].name == "Unspecified malaria"


def test_pregnancy_codes_are_for_women_of_12_to_55_only() -> None:
    pregnancy = {code: e for code, e in load_icd10().items() if code.startswith("O") or code.startswith("Z34")}
    assert len(pregnancy) >= 5
    for entry in pregnancy.values():
        assert entry.sexes == frozenset("F") and (entry.min_age, entry.max_age) == (12, 55), entry
        assert entry.group == "maternal"
        assert entry.allows("F", 25) and not entry.allows("M", 25) and not entry.allows("F", 11)


def test_severe_forms_are_flagged_on_their_codes() -> None:
    icd = load_icd10()
    assert {code for code, e in icd.items() if e.severe} == {"B50.0", "B50.8", "E43"}
    assert not icd["B50.9"].severe and not icd["B54"].severe


def test_every_code_is_used_by_the_case_mix_of_its_group() -> None:
    mix = load_case_mix()
    for code, entry in load_icd10().items():
        assert code in mix.groups[entry.group].code_weights, code


@pytest.mark.parametrize(("raw", "code"), [(" b509 ", "B50.9"), ("B54", "B54"), ("i10", "I10"), ("O14.9", "O14.9"),
                                           ("malaria", "MALARIA")])
def test_normalise_icd10_code(raw: str, code: str) -> None:
    assert normalise_icd10_code(raw) == code


def test_a_bad_row_is_rejected_with_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    text = icd10_module.read_text("icd10.csv").replace(",maternal,F,12,55,false", ",maternal,X,12,55,false", 1)
    monkeypatch.setattr(icd10_module, "read_text", lambda name: text)
    with pytest.raises(ReferenceDataError, match=r"icd10.csv line \d+: sexes 'X'"):
        icd10_module.load_icd10.__wrapped__()
