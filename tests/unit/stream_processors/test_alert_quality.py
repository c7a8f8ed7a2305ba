"""Alerts a ministry can trust, measured on SimuHealth backfills and held here.

False alarms: two seeded backfills without outbreaks (26 weeks from 2026W02, 100,000
encounters each; every district of Nigeria, and of Kenya and Ghana; the surveilled
groups of DAAS_SURVEILLANCE_DISEASES), one EARS alert per
district, group and week at most; the rate is alerts per series-week judged (a week
whose whole baseline the stream observed). Detection delay: the same generator with
x2 and x3 outbreaks of four weeks from 2026W16 in eight districts (malaria in
Sahel, perennial and lake-basin districts, diarrhoeal and typhoid), in weeks from the
outbreak's first week to its first alert. Seeds are fixed, so the numbers are exact;
the bounds leave room for small changes to the generator. Measured when written
(``python -m tests.unit.stream_processors.alert_quality`` prints them): 1.37 %
false alarms (98 of 7,140 series-weeks: 81 malaria, most on the Sahel rainy-season
rise, 12 diarrhoeal, 5 typhoid; 1.88 % before the trend adjustment of
``stream_processors.surveillance.detection``), x3 found 8 of 8 (delays in weeks
0,0,0,0,0,0,1,1), x2 found 8 of 8 (0,0,0,0,0,2,2,2).
"""

from __future__ import annotations

from datetime import date

import pytest

from producers.simuhealth.outbreak import Outbreak
from tests.unit.stream_processors.alert_quality import Backfill, Outcome, delays, run_backfill

START = date(2026, 1, 5)  # ISO week 2026W02: the backfills run through the Sahel malaria rise
STATIONARY = [
    Backfill(seed=11, countries=("NG",), start=START, weeks=26, records=100_000),
    Backfill(seed=12, countries=("KE", "GH"), start=START, weeks=26, records=100_000),
]
OUTBREAK_PLACES = [("NG", ["Dala", "Ikeja", "Zaria", "Maiduguri"]),
                   ("KE", ["Kisumu Central", "Lurambi", "Kibra", "Kasarani"])]
OUTBREAK_DISEASES = ["malaria", "malaria", "diarrhoeal", "typhoid"]


def _outbreaks(multiplier: float) -> list[Backfill]:
    return [Backfill(seed=100 + i, countries=(country,), start=START, weeks=20, records=80_000,
                     outbreaks=tuple(Outbreak(disease, district, "2026W16", 4, multiplier)
                                     for district, disease in zip(districts, OUTBREAK_DISEASES, strict=True)))
            for i, (country, districts) in enumerate(OUTBREAK_PLACES)]


OUTBREAK_RUNS = {2: _outbreaks(2.0), 3: _outbreaks(3.0)}


@pytest.fixture(scope="module")
def stationary() -> list[Outcome]:
    return [run_backfill(b) for b in STATIONARY]


def test_false_alarms_stay_under_one_and_a_half_percent_per_series_week(stationary: list[Outcome]) -> None:
    alerts = sum(len(o.aberrations()) for o in stationary)
    judged = sum(len(o.judged) for o in stationary)
    rate = alerts / judged
    print(f"\nfalse alarms: {alerts} EARS alerts in {judged} series-weeks = {rate:.2%}")
    assert judged > 7000  # the whole period after the first 9 weeks, every district and surveilled group
    assert rate < 0.016
    assert all(a.baseline_weeks == 7 for o in stationary for a in o.aberrations())
    assert not [a for o in stationary for a in o.alerts if a.method != "ears_c2"]  # no meningitis epidemic either


@pytest.mark.parametrize(("multiplier", "found", "within"), [(3, 8, 2), (2, 7, 3)])
def test_outbreaks_are_found_within_weeks(multiplier: int, found: int, within: int) -> None:
    weeks: list[int | None] = []
    for backfill in OUTBREAK_RUNS[multiplier]:
        weeks += delays(run_backfill(backfill), backfill.outbreaks)
    detected = sorted(w for w in weeks if w is not None)
    print(f"\nx{multiplier}: found {len(detected)} of {len(weeks)}, delays in weeks {detected}")
    assert len([w for w in detected if w <= within]) >= found
