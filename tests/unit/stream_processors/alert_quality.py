"""Alert quality of the live surveillance on SimuHealth backfills: false alarms and detection delay.

The generator's records are turned into what the processor sends surveillance (one
:class:`CaseMessage` per district per batch, each change with its input offset) and
applied to one :class:`DistrictState` per district, exactly as the Faust agent does —
no Kafka. ``tests/unit/stream_processors/test_alert_quality.py`` holds the numbers;
``python -m tests.unit.stream_processors.alert_quality`` prints them.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from daas.settings import Settings
from producers.simuhealth.generator import SimuHealthGenerator
from producers.simuhealth.outbreak import Outbreak
from reference import load_geography, load_icd10
from stream_processors.cases import CaseChange, CaseMessage, district_key
from stream_processors.surveillance.detection import Alert, shift_week
from stream_processors.surveillance.state import BASELINE_REACH, DistrictState

__all__ = ["Backfill", "Outcome", "run_backfill"]

BATCH_RECORDS = 1000  # records per processor batch (one case message per district per batch)
SOURCE = "health.raw.simuhealth.v1:0"


@dataclass(frozen=True)
class Backfill:
    """One seeded SimuHealth backfill: countries, window, encounters, outbreaks."""

    seed: int
    countries: tuple[str, ...]
    start: date  # a Monday
    weeks: int
    records: int
    outbreaks: tuple[Outbreak, ...] = ()

    @property
    def end(self) -> date:
        return self.start + timedelta(weeks=self.weeks)


@dataclass
class Outcome:
    """Every alert raised, and the series-weeks detection could judge."""

    alerts: list[Alert] = field(default_factory=list)
    judged: set[tuple[str, str, str]] = field(default_factory=set)  # (district key, group, week)
    counts: dict[tuple[str, str, str], int] = field(default_factory=dict)  # final (district key, group, week) count

    def aberrations(self) -> list[Alert]:
        return [a for a in self.alerts if a.method == "ears_c2"]

    def false_alarm_rate(self) -> float:
        """EARS alerts per series-week judged (district x surveilled group x week with a whole baseline)."""
        return len(self.aberrations()) / len(self.judged)

    def first_alert_week(self, district: str, group: str, since: str) -> str | None:
        weeks = sorted(a.epi_week for a in self.aberrations()
                       if (a.district, a.diagnosis_group) == (district, group) and a.epi_week >= since)
        return weeks[0] if weeks else None


@functools.cache
def _groups() -> dict[str, str]:
    return {code: entry.group for code, entry in load_icd10().items()}


def _week(day: date) -> str:
    iso = day.isocalendar()
    return f"{iso.year}W{iso.week:02d}"


def _messages(records: Iterable[dict], offset: int) -> list[CaseMessage]:
    """One batch's case messages: per district, every record's +1 at its offset."""
    groups = _groups()
    by_district: dict[str, CaseMessage] = {}
    for i, record in enumerate(records):
        key = district_key(record["country_code"], record["district"])
        message = by_district.setdefault(key, CaseMessage(key, SOURCE))
        message.changes.append(CaseChange(offset + i, groups[record["diagnosis"]["icd10_code"]],
                                          _week(record["encounter_time"].date()), 1))
    return list(by_district.values())


def run_backfill(backfill: Backfill, diseases: Sequence[str] | None = None) -> Outcome:
    """Stream the backfill through the surveillance state in processor-sized batches."""
    settings = Settings()
    diseases = frozenset(settings.surveillance_diseases if diseases is None else diseases)
    horizon = settings.surveillance_horizon_weeks
    geo = load_geography()
    populations = {district_key(d.country_code, d.name): d.population for d in geo.districts.values()}
    generator = SimuHealthGenerator(backfill.seed, countries=backfill.countries, start=backfill.start,
                                    end=backfill.end, outbreaks=backfill.outbreaks)
    states: dict[str, DistrictState] = {}
    outcome = Outcome()
    batch: list[dict] = []
    offset = 0

    def flush() -> None:
        nonlocal offset
        for message in _messages(batch, offset):
            state = states.setdefault(message.district, DistrictState(message.district))
            applied = state.apply(message, horizon)
            outcome.alerts += state.detect(applied.touched, horizon_weeks=horizon,
                                           population=populations.get(message.district), diseases=diseases)
        offset += len(batch)
        batch.clear()

    for record in generator.generate(backfill.records):
        batch.append(record)
        if len(batch) == BATCH_RECORDS:
            flush()
    flush()

    weeks = [_week(backfill.start + timedelta(weeks=i)) for i in range(backfill.weeks)]
    for key, state in states.items():
        for (group, week), cases in state.counts.items():
            outcome.counts[(key, group, week)] = cases
        # Judged: the week's whole baseline (3 to 9 weeks back) lies in the observed period.
        first_judged = shift_week(state.first_week, BASELINE_REACH) if state.first_week else None
        for week in weeks:
            if first_judged is not None and week >= first_judged:
                outcome.judged.update((key, group, week) for group in diseases)
    return outcome


def delays(outcome: Outcome, outbreaks: Sequence[Outbreak]) -> list[int | None]:
    """Weeks from each outbreak's first week to its first alert (None: not detected while it lasted)."""
    geo = load_geography()
    out: list[int | None] = []
    for outbreak in outbreaks:
        district = geo.find_district(outbreak.district)
        first = _week(outbreak.first_day)
        found = outcome.first_alert_week(district.name, outbreak.disease, first)
        weeks = [shift_week(first, i) for i in range(outbreak.weeks)]
        out.append(weeks.index(found) if found in weeks else None)
    return out


def _summary(name: str, values: list[int | None]) -> str:
    found = [v for v in values if v is not None]
    median = statistics.median(found) if found else None
    return (f"{name}: detected {len(found)}/{len(values)}, delays {sorted(found)}, median {median}, "
            f"missed {len(values) - len(found)}")


if __name__ == "__main__":  # pragma: no cover - prints the numbers the test holds
    import sys

    from collections import Counter

    from tests.unit.stream_processors.test_alert_quality import OUTBREAK_RUNS, STATIONARY

    for backfill in STATIONARY:
        outcome = run_backfill(backfill)
        by_group = Counter(a.diagnosis_group for a in outcome.aberrations())
        print(f"stationary seed={backfill.seed} {','.join(backfill.countries)} {backfill.weeks} weeks "
              f"{backfill.records} records: {len(outcome.aberrations())} EARS alerts / {len(outcome.judged)} "
              f"series-weeks = {outcome.false_alarm_rate():.2%} {dict(by_group)}; other alerts "
              f"{len(outcome.alerts) - len(outcome.aberrations())}")
    for multiplier, runs in OUTBREAK_RUNS.items():
        values: list[int | None] = []
        for backfill in runs:
            values += delays(run_backfill(backfill), backfill.outbreaks)
        print(_summary(f"x{multiplier}", values))
    sys.exit(0)
