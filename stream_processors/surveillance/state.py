"""One district's live surveillance state, and what a case message does to it. No I/O.

The surveillance service keeps one :class:`DistrictState` per district (its Faust
table's value, keyed like the cases topic): weekly counts per diagnosis group, the
last input offset applied per input partition (``marks``), the period the stream
has observed for the district, and the alerts already raised. Because all of it is
one value, a message's effect is written in one table write, and a message
delivered again finds its offsets already marked and changes nothing
(``stream_processors.cases``).

Weeks older than the horizon (the district's newest week minus ``horizon_weeks``)
are swept; a case for such a week is *late*: the warehouse counts it, the live view
does not. Detection judges a week only when its whole baseline lies inside both the
kept weeks and the observed period — no data is not zero cases.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from stream_processors.cases import CaseMessage, split_district_key
from stream_processors.surveillance.detection import (
    EARS_BASELINE_LAG,
    EARS_BASELINE_WEEKS,
    Alert,
    CaseKey,
    evaluate,
    shift_week,
)

__all__ = ["BASELINE_REACH", "Applied", "DistrictState"]

# Weeks a week's EARS baseline reaches back (guard band + baseline).
BASELINE_REACH = EARS_BASELINE_LAG + EARS_BASELINE_WEEKS


@dataclass(frozen=True)
class Applied:
    """What one message did: the (group, week) counts it changed, and what it passed over."""

    touched: list[tuple[str, str]]
    repeated: int  # changes at offsets already applied
    late: int  # changes for weeks older than the horizon
    # Weeks that fell out of the horizon, with their final counts: the last word on them.
    swept: list[tuple[tuple[str, str], int]] = field(default_factory=list)


@dataclass
class DistrictState:
    """Counts, marks, observed period and raised alerts of one district."""

    district: str  # cases.district_key()
    counts: dict[tuple[str, str], int] = field(default_factory=dict)  # (group, week) -> cases
    marks: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> last offset applied
    first_week: str | None = None  # the oldest week a case was applied for
    newest_week: str | None = None
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)  # identity -> alert

    # -- the table's value ---------------------------------------------------------

    def to_value(self) -> dict[str, Any]:
        return {"counts": [[g, w, n] for (g, w), n in sorted(self.counts.items())], "marks": self.marks,
                "first_week": self.first_week, "newest_week": self.newest_week, "alerts": self.alerts}

    @classmethod
    def from_value(cls, district: str, value: dict[str, Any] | None) -> DistrictState:
        if not value:
            return cls(district)
        return cls(district, {(g, w): int(n) for g, w, n in value["counts"]}, dict(value["marks"]),
                   value.get("first_week"), value.get("newest_week"), dict(value.get("alerts", {})))

    # -- changes -----------------------------------------------------------------------

    def oldest_kept(self, horizon_weeks: int) -> str | None:
        return None if self.newest_week is None else shift_week(self.newest_week, -(horizon_weeks - 1))

    def apply(self, message: CaseMessage, horizon_weeks: int) -> Applied:
        """Apply the changes past the mark of the message's input partition; sweep old weeks."""
        mark = self.marks.get(message.source, -1)
        counts = self.counts
        touched: set[tuple[str, str]] = set()
        repeated = late = 0
        last = mark
        for change in message.changes:
            if change.offset <= mark:
                repeated += 1
                continue
            last = max(last, change.offset)
            week = change.epi_week
            oldest = self.oldest_kept(horizon_weeks)
            if oldest is not None and week < oldest:
                late += 1
                continue
            key = (change.diagnosis_group, week)
            cases = counts.get(key, 0) + change.sign
            if cases:
                counts[key] = cases
            else:
                counts.pop(key, None)
            touched.add(key)
            if self.first_week is None or week < self.first_week:
                self.first_week = week
            if self.newest_week is None or week > self.newest_week:
                self.newest_week = week
        if last > mark:
            self.marks[message.source] = last
        swept = self._sweep(horizon_weeks)
        oldest = self.oldest_kept(horizon_weeks)
        return Applied(sorted(k for k in touched if oldest is None or k[1] >= oldest), repeated, late, swept)

    def _sweep(self, horizon_weeks: int) -> list[tuple[tuple[str, str], int]]:
        oldest = self.oldest_kept(horizon_weeks)
        if oldest is None:
            return []
        swept = sorted((key, self.counts.pop(key)) for key in [k for k in self.counts if k[1] < oldest])
        for identity in [i for i, a in self.alerts.items() if a["epi_week"] < oldest]:
            del self.alerts[identity]
        return swept

    # -- detection -------------------------------------------------------------------

    def baseline_weeks(self, epi_week: str, horizon_weeks: int) -> int:
        """How many of the week's baseline weeks the stream has observed and still keeps (0..7)."""
        oldest = self.oldest_kept(horizon_weeks)
        floor = max(filter(None, (oldest, self.first_week)), default=None)
        weeks = [shift_week(epi_week, -(EARS_BASELINE_LAG + 1 + i)) for i in range(EARS_BASELINE_WEEKS)]
        return sum(1 for w in weeks if floor is None or w >= floor)

    def detect(self, touched: Collection[tuple[str, str]], *, horizon_weeks: int, population: int | None,
               diseases: Collection[str]) -> list[Alert]:
        """New alerts for the touched weeks of the diseases under surveillance (remembered here)."""
        country_code, district = split_district_key(self.district)
        raised = []
        for group, week in sorted(touched):
            if group not in diseases:
                continue

            def count_of(epi_week: str, group: str = group) -> int:
                return self.counts.get((group, epi_week), 0)

            complete = self.baseline_weeks(week, horizon_weeks) == EARS_BASELINE_WEEKS
            for alert in evaluate(CaseKey(country_code, district, group), week, count_of, population,
                                  baseline_complete=complete):
                identity = alert.identity()
                if identity not in self.alerts:
                    self.alerts[identity] = alert.as_dict()
                    raised.append(alert)
        return raised
