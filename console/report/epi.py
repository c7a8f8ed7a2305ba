"""The report's decisions, free of I/O: the week it reports, the diseases and districts
it draws, the thresholds the detector would have drawn, and which numbers may be shown.

One rule keeps the report inside what the published views disclose: a number is shown
only where every count it is computed from is published. Counts are the published
cells (suppressed ones stay hidden); an EARS threshold is drawn for a week only when
all its baseline weeks are published (it is mean + 3 sd of them, so one hidden week
could be solved for); an alert's count and incidence only where the published count
of its district, disease and week is shown.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from console.report.queries import AlertRow, Cell, TopCode
from stream_processors.surveillance.detection import (
    EARS_BASELINE_LAG,
    EARS_BASELINE_WEEKS,
    MENINGITIS_ALERT_PER_100K,
    MENINGITIS_EPIDEMIC_PER_100K,
    ears_c2_threshold,
    shift_week,
)

__all__ = ["CasesRow", "Curve", "CurvePoint", "ShownAlert", "baseline_weeks", "cases_table", "choose_curves",
           "ears_threshold", "iso_week", "main_groups", "report_week", "shown_alerts", "top_codes_per_country",
           "week_range"]

MENINGITIS = "meningitis"


def iso_week(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}W{iso.week:02d}"


def report_week(weeks: Iterable[str], today: date) -> str | None:
    """The newest complete ISO week with data: the newest before ``today``'s week, or the
    newest of all when every week with data is this one (or later)."""
    weeks = sorted(set(weeks))
    if not weeks:
        return None
    complete = [w for w in weeks if w < iso_week(today)]
    return complete[-1] if complete else weeks[-1]


def week_range(first: str, last: str) -> list[str]:
    """Every ISO week from ``first`` to ``last``, both included."""
    out = [first]
    while out[-1] < last:
        out.append(shift_week(out[-1], 1))
    return out


def main_groups(country: Sequence[Cell], week: str, n: int = 4) -> list[str]:
    """The ``n`` diagnosis groups with the most published cases in ``week`` (all countries)."""
    totals: Counter[str] = Counter()
    for cell in country:
        if cell.epi_week == week:
            totals[cell.diagnosis_group] += cell.cases or 0
    return [g for g, _ in sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:n]]


# -- cases and incidence by place -----------------------------------------------------


@dataclass(frozen=True)
class CasesRow:
    """One place in the report week: per group (cases, incidence), None where suppressed."""

    country_code: str
    region: str | None
    district: str | None
    population: int | None
    values: dict[str, tuple[int | None, Decimal | None]]


def cases_table(cells: Sequence[Cell], week: str, groups: Sequence[str]) -> list[CasesRow]:
    """Every place with a published count in ``week``, with ``groups``' cases and incidence
    (a group with no count there had no case: 0)."""
    places: dict[tuple[str, str | None, str | None], dict[str, Cell]] = defaultdict(dict)
    population: dict[tuple[str, str | None, str | None], int | None] = {}
    for cell in cells:
        if cell.epi_week != week:
            continue
        key = (cell.country_code, cell.region, cell.district)
        places[key][cell.diagnosis_group] = cell
        population[key] = cell.population
    rows = []
    for key in sorted(places, key=lambda k: tuple(p or "" for p in k)):
        values: dict[str, tuple[int | None, Decimal | None]] = {}
        for group in groups:
            cell = places[key].get(group)
            values[group] = (0, Decimal(0)) if cell is None else (cell.cases, cell.incidence_per_100k)
        rows.append(CasesRow(*key, population[key], values))
    return rows


def top_codes_per_country(top: Sequence[TopCode], week: str,
                          n: int = 5) -> dict[str, list[tuple[str, str, str, int, int]]]:
    """Country -> up to ``n`` (code, name, group, cases, regions) of ``week``: each code's
    published regional counts summed over the regions whose top diagnoses list it."""
    found: dict[str, dict[str, list]] = defaultdict(dict)
    for line in top:
        if line.epi_week != week:
            continue
        entry = found[line.country_code].setdefault(line.icd10_code, [line.icd10_name, line.diagnosis_group, 0, 0])
        entry[2] += line.cases
        entry[3] += 1
    return {cc: sorted(((code, *e) for code, e in codes.items()), key=lambda r: (-r[3], r[0]))[:n]
            for cc, codes in sorted(found.items())}


# -- epidemic curves and thresholds ---------------------------------------------------


def baseline_weeks(week: str) -> list[str]:
    """The detector's EARS baseline of ``week``: the 7 weeks ending 3 weeks before it."""
    return [shift_week(week, -(EARS_BASELINE_LAG + 1 + i)) for i in range(EARS_BASELINE_WEEKS)]


def ears_threshold(week: str, counts: Mapping[str, int | None], first_week: str | None) -> float | None:
    """The EARS C2 threshold the detector computes for ``week`` from ``counts`` (week ->
    cases; absent = 0, None = suppressed); None where it computes none (a baseline week
    before ``first_week``, the district's first week with data, or no case in the whole
    baseline) or where a baseline week is suppressed."""
    weeks = baseline_weeks(week)
    if first_week is None or min(weeks) < first_week:
        return None
    baseline = [counts.get(w, 0) for w in weeks]
    if any(b is None for b in baseline) or not any(baseline):
        return None
    return ears_c2_threshold([int(b) for b in baseline])  # type: ignore[arg-type]


@dataclass(frozen=True)
class CurvePoint:
    epi_week: str
    cases: int | None  # None: suppressed
    threshold: float | None
    alerts: tuple[str, ...]  # levels raised for this week


@dataclass(frozen=True)
class Curve:
    """A district's weekly counts of one disease, thresholds and alerts, week by week."""

    country_code: str
    region: str | None
    district: str
    diagnosis_group: str
    population: int | None
    points: list[CurvePoint]

    @property
    def slug(self) -> str:
        return "-".join("".join(ch if ch.isalnum() else "_" for ch in part.lower())
                        for part in (self.diagnosis_group, self.country_code, self.district))

    def who_cases(self) -> tuple[float, float] | None:
        """Meningitis: the WHO alert and epidemic thresholds as weekly cases for this population."""
        if self.diagnosis_group != MENINGITIS or not self.population:
            return None
        return (MENINGITIS_ALERT_PER_100K * self.population / 100_000,
                MENINGITIS_EPIDEMIC_PER_100K * self.population / 100_000)


def choose_curves(district: Sequence[Cell], alerts: Sequence[AlertRow], diseases: Sequence[str], *,
                  per_disease: int = 3) -> list[Curve]:
    """For each disease under surveillance that has data: its districts with alerts, the
    largest outbreak first (the most cases an alert of theirs counted, then the newest),
    or else its district with the most published cases. Diseases with the largest alerted
    outbreak come first, then the others in ``diseases`` order. Every curve spans the
    same weeks (the first to the last with data)."""
    if not district:
        return []
    weeks = week_range(min(c.epi_week for c in district), max(c.epi_week for c in district))
    first_week: dict[tuple[str, str], str] = {}
    series: dict[tuple[str, str, str], dict[str, int | None]] = defaultdict(dict)
    place: dict[tuple[str, str], tuple[str | None, int | None]] = {}
    for cell in district:
        key = (cell.country_code, cell.district or "")
        first_week[key] = min(first_week.get(key, cell.epi_week), cell.epi_week)
        series[(*key, cell.diagnosis_group)][cell.epi_week] = cell.cases
        place[key] = (cell.region, cell.population)
    levels: dict[tuple[str, str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    largest: dict[tuple[str, str, str], tuple[int, str]] = {}  # (most cases alerted, newest week alerted)
    for alert in alerts:
        key = (alert.country_code, alert.district, alert.diagnosis_group)
        levels[key][alert.epi_week].append(alert.level)
        largest[key] = max(largest.get(key, (0, "")), (alert.cases, alert.epi_week))

    def visible(key: tuple[str, str, str]) -> int:
        return sum(v or 0 for v in series[key].values())

    chosen: list[tuple[int, int, list[tuple[str, str, str]]]] = []
    for order, disease in enumerate(diseases):
        keys = [k for k in series if k[2] == disease]
        if not keys:
            continue
        alerted = sorted((k for k in keys if k in largest), key=lambda k: (largest[k], k), reverse=True)
        picked = alerted[:per_disease] or [max(keys, key=lambda k: (visible(k), k))]
        chosen.append((-largest[alerted[0]][0] if alerted else 0, order, picked))
    curves = []
    for _, _, picked in sorted(chosen):
        for key in picked:
            counts = series[key]
            points = [CurvePoint(w, counts.get(w, 0), ears_threshold(w, counts, first_week[key[:2]]),
                                 tuple(levels.get(key, {}).get(w, ()))) for w in weeks]
            region, population = place[key[:2]]
            curves.append(Curve(key[0], region, key[1], key[2], population, points))
    return curves


# -- alerts -------------------------------------------------------------------------


@dataclass(frozen=True)
class ShownAlert:
    alert: AlertRow
    cases: int | None  # the published count of the alert's district, disease and week
    incidence_per_100k: Decimal | None
    threshold: float | None  # as raised; None where its baseline is not published


def shown_alerts(alerts: Sequence[AlertRow], district: Sequence[Cell]) -> list[ShownAlert]:
    """The alerts, newest raised first, with only the numbers the published views allow."""
    cells = {(c.country_code, c.district, c.diagnosis_group, c.epi_week): c for c in district}
    series: dict[tuple[str, str | None, str], dict[str, int | None]] = defaultdict(dict)
    first_week: dict[tuple[str, str | None], str] = {}
    for c in district:
        series[(c.country_code, c.district, c.diagnosis_group)][c.epi_week] = c.cases
        key = (c.country_code, c.district)
        first_week[key] = min(first_week.get(key, c.epi_week), c.epi_week)
    out = []
    for alert in sorted(alerts, key=lambda a: (a.raised_at, a.epi_week), reverse=True):
        cell = cells.get((alert.country_code, alert.district, alert.diagnosis_group, alert.epi_week))
        shown = cell is not None and not cell.suppressed
        if alert.method == "ears_c2":
            counts = series.get((alert.country_code, alert.district, alert.diagnosis_group), {})
            published = ears_threshold(alert.epi_week, counts, first_week.get((alert.country_code, alert.district)))
            threshold = alert.threshold if published is not None else None
        else:
            threshold = alert.threshold  # a fixed WHO limit, per 100,000
        out.append(ShownAlert(alert, cell.cases if shown else None,  # type: ignore[union-attr]
                              cell.incidence_per_100k if shown else None, threshold))  # type: ignore[union-attr]
    return out
