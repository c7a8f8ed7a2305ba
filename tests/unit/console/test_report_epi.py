"""The report's decisions (console.report.epi): the week, the thresholds the detector would
draw, which curves, and which numbers the published views allow."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from console.report.epi import (
    baseline_weeks,
    cases_table,
    choose_curves,
    ears_threshold,
    main_groups,
    report_week,
    shown_alerts,
    top_codes_per_country,
    week_range,
)
from console.report.queries import AlertRow, Cell, TopCode
from stream_processors.surveillance.detection import CaseKey, ears_c2_threshold, evaluate

RAISED = datetime(2026, 11, 20, 8, tzinfo=UTC)


def cell(week: str, cases: int | None, *, district: str | None = "Kano Municipal", group: str = "malaria",
         region: str | None = "Kano", cc: str = "NG", population: int = 680_000) -> Cell:
    incidence = None if cases is None else (Decimal(cases) * 100_000 / population).quantize(Decimal("0.01"))
    return Cell(cc, region, district, group, week, date.fromisocalendar(int(week[:4]), int(week[5:]), 1), cases,
                population, incidence, cases is None)


def alert(week: str, *, district: str = "Kano Municipal", group: str = "malaria", level: str = "aberration",
          threshold: float = 20.0, cases: int = 40) -> AlertRow:
    method = "ears_c2" if level == "aberration" else "who_meningitis_threshold"
    return AlertRow("NG", "Kano", district, group, week, level, method, cases, 5.9, threshold, RAISED)


def test_the_report_week_is_the_newest_complete_one() -> None:
    weeks = ["2026W45", "2026W47", "2026W46", "2026W48"]
    assert report_week(weeks, date(2026, 11, 26)) == "2026W47"  # a Thursday of W48: W48 is not over
    assert report_week(weeks, date(2026, 11, 30)) == "2026W48"
    assert report_week(["2026W48"], date(2026, 11, 26)) == "2026W48"  # only the current week: show it
    assert report_week([], date(2026, 11, 26)) is None
    assert week_range("2025W51", "2026W02") == ["2025W51", "2025W52", "2026W01", "2026W02"]


def test_thresholds_are_the_detectors_where_it_computes_one_and_never_from_a_suppressed_week() -> None:
    counts: dict[str, int | None] = {f"2026W{w:02d}": 10 + w % 3 for w in range(30, 46)}
    counts["2026W38"] = 0
    counts.pop("2026W39")  # no row: no case that week
    week = "2026W45"
    baseline = [counts.get(w, 0) for w in baseline_weeks(week)]
    assert baseline_weeks(week) == [f"2026W{w:02d}" for w in range(42, 35, -1)]
    # The detector's own decision for the same series: it alerts exactly above this threshold.
    threshold = ears_threshold(week, counts, "2026W30")
    assert threshold == pytest.approx(ears_c2_threshold(baseline))
    for cases in (int(threshold), int(threshold) + 1):
        raised = evaluate(CaseKey("NG", "Kano Municipal", "malaria"), week, lambda w, c=cases: c if w == week
                          else counts.get(w, 0) or 0, 680_000)
        assert bool(raised) == (cases > threshold)
    assert ears_threshold(week, counts, "2026W37") is None  # the baseline reaches before the district's data
    assert ears_threshold(week, {**counts, "2026W40": None}, "2026W30") is None  # a suppressed baseline week
    assert ears_threshold(week, {"2026W45": 30}, "2026W30") is None  # no case in the whole baseline


def test_curves_follow_the_alerts_largest_first_and_fall_back_to_the_biggest_district() -> None:
    weeks = [f"2026W{w:02d}" for w in range(30, 46)]
    district = ([cell(w, 12) for w in weeks] + [cell(w, 20, district="Dala") for w in weeks]
                + [cell(w, 6, district="Dala", group="typhoid") for w in weeks]
                + [cell(w, 7, district="Gwale", group="typhoid") for w in weeks]
                + [cell("2026W45", None, district="Gwale", group="meningitis")])
    alerts = [alert("2026W44"), alert("2026W45"), alert("2026W45", district="Dala", cases=25),
              alert("2026W45", district="Gwale", group="meningitis", level="alert", threshold=5.0, cases=90)]
    curves = choose_curves(district, alerts, ["malaria", "typhoid", "meningitis", "cholera"])
    assert [(c.diagnosis_group, c.district) for c in curves] == [
        ("meningitis", "Gwale"), ("malaria", "Kano Municipal"), ("malaria", "Dala"), ("typhoid", "Gwale")]
    kano = curves[1]
    assert [p.epi_week for p in kano.points] == weeks
    assert [p.alerts for p in kano.points][-3:] == [(), ("aberration",), ("aberration",)]
    assert kano.points[-1].threshold == pytest.approx(ears_c2_threshold([12] * 7))
    assert [p.threshold for p in kano.points[:9]] == [None] * 9  # the first 9 weeks have no full baseline
    gwale = curves[0]
    assert gwale.points[-1].cases is None and gwale.points[0].cases == 0
    assert gwale.who_cases() == pytest.approx((34.0, 68.0))  # 5 and 10 per 100,000 of 680,000
    assert curves[3].who_cases() is None


def test_an_alert_shows_only_numbers_whose_counts_are_published() -> None:
    weeks = [f"2026W{w:02d}" for w in range(30, 46)]
    district = [cell(w, 12) for w in weeks] + [cell(w, 9, district="Dala") for w in weeks]
    district = [c for c in district if (c.district, c.epi_week) != ("Dala", "2026W40")]
    district += [cell("2026W40", None, district="Dala"), cell("2026W45", None, district="Ungogo", group="meningitis")]
    alerts = [alert("2026W45"), alert("2026W45", district="Dala"), alert("2026W45", district="Ungogo",
                                                                         group="meningitis", level="alert",
                                                                         threshold=5.0)]
    shown = {s.alert.district: s for s in shown_alerts(alerts, district)}
    assert (shown["Kano Municipal"].cases, shown["Kano Municipal"].threshold) == (12, 20.0)
    assert shown["Kano Municipal"].incidence_per_100k == Decimal("1.76")
    assert (shown["Dala"].cases, shown["Dala"].threshold) == (9, None)  # W40 of its baseline is suppressed
    assert (shown["Ungogo"].cases, shown["Ungogo"].incidence_per_100k, shown["Ungogo"].threshold) == (None, None, 5.0)


def test_tables_and_top_diagnoses_come_from_published_cells_only() -> None:
    region = [cell("2026W45", 30, district=None), cell("2026W45", None, district=None, group="respiratory"),
              cell("2026W44", 99, district=None, group="hiv"),
              cell("2026W45", 8, district=None, region="Lagos", population=5_950_000)]
    country = [cell("2026W45", 38, district=None, region=None), cell("2026W45", 7, district=None, region=None,
                                                                       group="respiratory"),
               cell("2026W45", 9, district=None, region=None, cc="GH", group="respiratory")]
    assert main_groups(country, "2026W45") == ["malaria", "respiratory"]
    rows = cases_table(region, "2026W45", ["malaria", "respiratory", "hiv"])
    assert [(r.region, r.values["malaria"], r.values["respiratory"][0], r.values["hiv"][0]) for r in rows] == [
        ("Kano", (30, Decimal("4.41")), None, 0), ("Lagos", (8, Decimal("0.13")), 0, 0)]
    top = [TopCode("NG", "Kano", "2026W45", 1, "B54", "Unspecified malaria", "malaria", 20),
           TopCode("NG", "Lagos", "2026W45", 1, "J06.9", "URTI", "respiratory", 22),
           TopCode("NG", "Lagos", "2026W45", 2, "B54", "Unspecified malaria", "malaria", 6),
           TopCode("NG", "Lagos", "2026W44", 1, "A09", "Gastroenteritis", "diarrhoeal", 50)]
    assert top_codes_per_country(top, "2026W45") == {
        "NG": [("B54", "Unspecified malaria", "malaria", 26, 2), ("J06.9", "URTI", "respiratory", 22, 1)]}
