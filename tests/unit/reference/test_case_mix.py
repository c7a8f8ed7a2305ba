"""The shipped case mix: consistent, sourced, and epidemiologically plausible."""

from __future__ import annotations

import pytest

from reference import MALARIA_ZONES, ReferenceDataError, load_case_mix, load_geography, load_icd10
from reference import case_mix as case_mix_module


def test_every_country_in_the_geography_has_a_case_mix_summing_to_one() -> None:
    mix = load_case_mix()
    assert set(load_geography().countries) <= set(mix.countries)
    for country in mix.countries.values():
        assert sum(country.diagnosis_shares.values()) == pytest.approx(1.0)
        assert sum(country.age_shares) == pytest.approx(1.0)
        assert len(country.female_share) == len(mix.age_bands)


def test_group_codes_exist_with_that_group() -> None:
    icd = load_icd10()
    for name, group in load_case_mix().groups.items():
        assert group.code_weights
        assert {icd[code].group for code in group.code_weights} == {name}


@pytest.mark.parametrize("country", ["NG", "UG", "CD", "GH"])
def test_malaria_is_a_quarter_to_nearly_half_of_visits_in_high_burden_countries(country: str) -> None:
    assert 0.25 <= load_case_mix().countries[country].diagnosis_shares["malaria"] <= 0.45


def test_kenya_sees_more_respiratory_infection_than_malaria() -> None:
    shares = load_case_mix().countries["KE"].diagnosis_shares
    assert shares["respiratory"] >= shares["malaria"]


def test_south_africa_is_led_by_chronic_disease_not_malaria() -> None:
    shares = load_case_mix().countries["ZA"].diagnosis_shares
    top_five = sorted((g for g in shares if g != "other"), key=shares.__getitem__, reverse=True)[:5]
    assert {"hypertension", "hiv"} <= set(top_five)
    assert shares["malaria"] < 0.01


def test_severe_malaria_shares_by_age() -> None:
    mix = load_case_mix()
    assert mix.severe_malaria_share(0) == mix.severe_malaria_share(4) == pytest.approx(0.10)
    assert mix.severe_malaria_share(5) == mix.severe_malaria_share(80) == pytest.approx(0.035)


def test_zones_are_complete_and_the_sahel_is_strongly_seasonal() -> None:
    zones = load_case_mix().malaria_zones
    assert set(zones) == set(MALARIA_ZONES)
    profile = zones["sahel_west_africa"].monthly_profile
    best_half = max(sum(profile[(start + k) % 12] for k in range(6)) for start in range(12))
    assert best_half / sum(profile) >= 0.8
    assert zones["non_endemic"].relative_incidence < zones["endemic_low"].relative_incidence < 0.1


def test_sources_name_who_hmis_and_gbd() -> None:
    titles = " | ".join(source.title for source in load_case_mix().sources)
    for needle in ("World Malaria Report 2023", "World Malaria Report 2024", "DHIS2", "GBD 2021"):
        assert needle in titles


def test_shares_that_do_not_sum_to_one_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    document = case_mix_module.read_json("case_mix.json")
    document["countries"]["NG"]["diagnosis_shares"]["malaria"] += 0.1
    monkeypatch.setattr(case_mix_module, "read_json", lambda name: document)
    with pytest.raises(ReferenceDataError, match=r"countries.NG.diagnosis_shares must sum to 1"):
        case_mix_module.load_case_mix.__wrapped__()


def test_a_code_of_another_group_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    document = case_mix_module.read_json("case_mix.json")
    document["groups"]["malaria"]["codes"]["I10"] = 0.1
    monkeypatch.setattr(case_mix_module, "read_json", lambda name: document)
    with pytest.raises(ReferenceDataError, match=r"I10 is not an ICD-10 reference code of group malaria"):
        case_mix_module.load_case_mix.__wrapped__()
