"""Injected outbreaks raise a disease's weekly count in their district by about the multiplier."""

from __future__ import annotations

import functools
from collections import Counter
from datetime import date
from typing import Any

import pytest

from daas.errors import ConfigurationError
from producers.simuhealth import Outbreak, SimuHealthGenerator
from producers.simuhealth.outbreak import parse_week

from .support import district_id_of, group_of

START, END = date(2025, 1, 6), date(2025, 3, 3)  # ISO weeks 2025W02-2025W09
OUTBREAK_WEEKS = {4, 5}


def _weekly(records: list[dict[str, Any]], district: str, match: Any) -> Counter[int]:
    return Counter(
        r["encounter_time"].isocalendar().week for r in records if district_id_of(r) == district and match(r)
    )


@functools.cache
def _run(disease: str | None) -> list[dict[str, Any]]:
    """Two months of Nigerian traffic, with a tripling of ``disease`` in Alimosho in weeks 4-5."""
    outbreaks = () if disease is None else (Outbreak(disease, "Alimosho", "2025W04", 2, 3.0),)
    generator = SimuHealthGenerator(11, countries=["NG"], start=START, end=END, outbreaks=outbreaks)
    return list(generator.generate(60_000))


@pytest.mark.parametrize(
    ("disease", "match"),
    [
        ("malaria", lambda r: group_of(r) == "malaria"),
        ("B50.9", lambda r: r["diagnosis"]["icd10_code"] == "B50.9"),
    ],
)
def test_an_outbreak_multiplies_weekly_cases_in_its_district(disease: str, match: Any) -> None:
    with_outbreak = _weekly(_run(disease), "NG-LA-ALI", match)
    baseline = _weekly(_run(None), "NG-LA-ALI", match)
    during = sum(with_outbreak[w] for w in OUTBREAK_WEEKS)
    assert during / sum(baseline[w] for w in OUTBREAK_WEEKS) == pytest.approx(3.0, rel=0.2)
    other_weeks = [w for w in range(3, 9) if w not in OUTBREAK_WEEKS]
    usual = sum(with_outbreak[w] for w in other_weeks) / len(other_weeks)
    assert during / len(OUTBREAK_WEEKS) / usual == pytest.approx(3.0, rel=0.25)


def test_an_outbreak_stays_in_its_district_and_disease() -> None:
    records, baseline = _run("malaria"), _run(None)
    for district in ("NG-LA-IKJ", "NG-KN-DAL"):
        during = sum(_weekly(records, district, lambda r: True)[w] for w in OUTBREAK_WEEKS)
        usual = sum(_weekly(baseline, district, lambda r: True)[w] for w in OUTBREAK_WEEKS)
        assert during == pytest.approx(usual, rel=0.15)


def test_outbreaks_accept_iso_weeks_and_dates() -> None:
    assert parse_week("2026W10") == parse_week("2026-w10") == date(2026, 3, 2)
    outbreak = Outbreak("cholera", "Dala", date(2026, 3, 4), 2, 5)
    assert (outbreak.first_day, outbreak.end_day) == (date(2026, 3, 4), date(2026, 3, 18))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start_week": "2026-10"}, "ISO week such as 2026W10"),
        ({"start_week": "2026W54"}, "has no ISO week 54"),
        ({"weeks": 0}, "weeks must be a whole number >= 1"),
        ({"multiplier": 0.5}, "multiplier must be a finite number >= 1"),
    ],
)
def test_bad_outbreak_settings_fail_fast(kwargs: dict[str, Any], message: str) -> None:
    settings = {"disease": "cholera", "district": "Dala", "start_week": "2026W10", "weeks": 2, "multiplier": 4.0}
    with pytest.raises(ConfigurationError, match=message):
        Outbreak(**{**settings, **kwargs})


@pytest.mark.parametrize(
    ("outbreak", "message"),
    [
        (Outbreak("cholera", "Atlantis", "2026W10", 2, 4.0), "unknown district 'Atlantis'"),
        (Outbreak("plague", "Dala", "2026W10", 2, 4.0), "neither a diagnosis group"),
        (Outbreak("cholera", "Gulu", "2026W10", 2, 4.0), "is in UG, which this generator does not emit"),
    ],
)
def test_outbreaks_must_name_known_diseases_and_emitted_districts(outbreak: Outbreak, message: str) -> None:
    with pytest.raises(Exception, match=message):
        SimuHealthGenerator(1, countries=["NG"], start=START, end=END, outbreaks=(outbreak,))
