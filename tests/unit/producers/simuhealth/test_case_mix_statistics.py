"""Statistical acceptance checks on a year of generated traffic (100,000 encounters)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from reference import load_case_mix, load_geography, load_icd10

from .support import YEAR_END, YEAR_START, age_at_encounter, district_id_of, group_of, zone_of

Records = list[dict[str, Any]]


def _groups(records: Records) -> Counter[str]:
    return Counter(group_of(r) for r in records)


@pytest.mark.parametrize("country", ["NG", "UG", "CD"])
def test_malaria_is_25_to_45_percent_of_diagnoses(year_sample: Records, country: str) -> None:
    groups = _groups([r for r in year_sample if r["country_code"] == country])
    total = sum(groups.values())
    assert total > 5_000
    assert 0.25 <= groups["malaria"] / total <= 0.45


def test_south_africa_outside_endemic_districts_has_almost_no_malaria(year_sample: Records) -> None:
    groups = _groups([r for r in year_sample if r["country_code"] == "ZA" and zone_of(r) == "non_endemic"])
    total = sum(groups.values())
    assert total > 20_000
    assert groups["malaria"] / total < 0.01
    top_five = [group for group, _ in groups.most_common(6) if group != "other"][:5]
    assert {"hypertension", "hiv"} <= set(top_five), top_five


def test_south_african_malaria_stays_in_its_endemic_districts(year_sample: Records) -> None:
    za_malaria = [r for r in year_sample if r["country_code"] == "ZA" and group_of(r) == "malaria"]
    assert za_malaria
    assert sum(zone_of(r) == "endemic_low" for r in za_malaria) / len(za_malaria) >= 0.9


def test_kenya_sees_respiratory_infections_at_least_as_often_as_malaria(year_sample: Records) -> None:
    groups = _groups([r for r in year_sample if r["country_code"] == "KE"])
    assert groups["respiratory"] >= groups["malaria"] > 0


def test_every_country_follows_its_reference_case_mix(year_sample: Records) -> None:
    mix = load_case_mix()
    for country, spec in mix.countries.items():
        groups = _groups([r for r in year_sample if r["country_code"] == country])
        total = sum(groups.values())
        for group, share in spec.diagnosis_shares.items():
            assert groups[group] / total == pytest.approx(share, abs=0.025), (country, group)


def test_severe_malaria_is_about_10_percent_under_five_and_3_5_percent_from_five(year_sample: Records) -> None:
    malaria = [r for r in year_sample if group_of(r) == "malaria"]
    under_five = [r for r in malaria if age_at_encounter(r) < 5]
    older = [r for r in malaria if age_at_encounter(r) >= 5]
    assert len(under_five) > 3_000 and len(older) > 3_000
    severe_young = sum(r["severity"] == "severe" for r in under_five) / len(under_five)
    severe_older = sum(r["severity"] == "severe" for r in older) / len(older)
    assert severe_young == pytest.approx(0.10, abs=0.02)
    assert severe_older == pytest.approx(0.035, abs=0.02)


def test_severe_malaria_is_severity_severe_with_a_severe_malaria_code(year_sample: Records) -> None:
    icd = load_icd10()
    for record in year_sample:
        if group_of(record) == "malaria":
            code = record["diagnosis"]["icd10_code"]
            expected = {"B50.0", "B50.8"} if record["severity"] == "severe" else {"B50.9", "B54"}
            assert code in expected and icd[code].severe == (record["severity"] == "severe"), record


def test_every_code_respects_its_sex_and_age_limits(year_sample: Records) -> None:
    icd = load_icd10()
    for record in year_sample:
        entry = icd[record["diagnosis"]["icd10_code"]]
        assert entry.allows(record["patient"]["sex"], age_at_encounter(record)), record


def test_no_pregnancy_codes_for_men_or_children(year_sample: Records) -> None:
    pregnancy = [r for r in year_sample if r["diagnosis"]["icd10_code"].startswith(("O", "Z34"))]
    assert len(pregnancy) > 1_000
    assert all(r["patient"]["sex"] == "F" and 12 <= age_at_encounter(r) <= 55 for r in pregnancy)


def test_sahel_malaria_is_concentrated_in_six_months(year_sample: Records) -> None:
    sahel = [r for r in year_sample if group_of(r) == "malaria" and zone_of(r) == "sahel_west_africa"]
    months = Counter(r["encounter_time"].month for r in sahel)
    best_six = max(sum(months[(start + k) % 12 + 1] for k in range(6)) for start in range(12))
    assert len(sahel) > 2_000
    assert best_six / len(sahel) >= 0.75


def test_sahel_meningitis_peaks_in_the_dry_season(year_sample: Records) -> None:
    sahel = [r for r in year_sample if group_of(r) == "meningitis" and zone_of(r) == "sahel_west_africa"]
    dry = sum(r["encounter_time"].month <= 5 for r in sahel)
    assert dry / len(sahel) >= 0.6


def test_encounters_follow_district_population(year_sample: Records) -> None:
    geography = load_geography()
    total_population = sum(d.population for d in geography.districts.values())
    counts = Counter(district_id_of(r) for r in year_sample)
    for district in geography.districts.values():
        expected = len(year_sample) * district.population / total_population
        if expected >= 1_000:
            assert counts[district.district_id] == pytest.approx(expected, rel=0.1), district.district_id


def test_children_under_five_are_a_bigger_share_where_malaria_is_common(year_sample: Records) -> None:
    def under_five(country: str) -> float:
        ages = [age_at_encounter(r) for r in year_sample if r["country_code"] == country]
        return sum(a < 5 for a in ages) / len(ages)

    assert under_five("CD") > under_five("ZA") + 0.1
    assert 0.15 <= under_five("NG") <= 0.4


def test_women_attend_more_than_men(year_sample: Records) -> None:
    female = sum(r["patient"]["sex"] == "F" for r in year_sample) / len(year_sample)
    assert 0.52 <= female <= 0.68


def test_backfill_covers_the_window_in_event_time_order(year_sample: Records) -> None:
    times = [r["encounter_time"] for r in year_sample]
    assert times == sorted(times)
    assert YEAR_START <= times[0].date() and times[-1].date() < YEAR_END
    assert Counter(t.month for t in times).keys() == set(range(1, 13))
    assert all(r["produced_at"] >= r["encounter_time"] for r in year_sample)


def test_most_encounters_happen_in_local_clinic_hours_and_on_weekdays(year_sample: Records) -> None:
    geography = load_geography()
    local_hours = [
        (r["encounter_time"].hour + geography.districts[district_id_of(r)].utc_offset_minutes // 60) % 24
        for r in year_sample
    ]
    assert sum(7 <= h < 17 for h in local_hours) / len(local_hours) >= 0.8
    weekdays = Counter(r["encounter_time"].weekday() for r in year_sample)
    assert weekdays[6] < weekdays[5] < min(weekdays[d] for d in range(5))
