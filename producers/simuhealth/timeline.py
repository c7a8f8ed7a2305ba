"""When encounters happen: seasonal curves, clinic hours and the backfill time grid.

Used by the generator: monthly profiles become smooth daily factors (linear
between mid-months, wrapping over the year end), clinic hours and weekdays shape
the time of day in each district's local time, and :class:`HourGrid` turns the
resulting intensity over ``[start, end)`` into a cumulative table that sorted
uniform draws walk through, so backfill comes out in event-time order.
"""

from __future__ import annotations

import calendar
import math
from array import array
from collections.abc import Callable, Sequence
from datetime import date

__all__ = [
    "CLINIC_HOURS",
    "DAY_MS",
    "EPOCH_ORDINAL",
    "HOUR_MS",
    "WEEKDAYS",
    "HourGrid",
    "birth_ordinals",
    "local_factor",
    "normalised",
    "season_factor",
]

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# Outpatient attendance by local hour: queues from 7, peak mid-morning, a trickle at night.
CLINIC_HOURS = (0.03, 0.03, 0.03, 0.03, 0.03, 0.03, 0.15, 0.55, 1.0, 1.0, 0.95, 0.85,
                0.7, 0.6, 0.5, 0.4, 0.3, 0.18, 0.1, 0.07, 0.04, 0.04, 0.04, 0.03)
# Monday..Sunday: many facilities run reduced services at weekends.
WEEKDAYS = (1.0, 1.0, 1.0, 1.0, 1.0, 0.55, 0.3)


def normalised(profile: Sequence[float]) -> tuple[float, ...]:
    """A monthly profile scaled to mean 1, so it moves cases in time but keeps annual totals."""
    mean = sum(profile) / len(profile)
    return tuple(value / mean for value in profile)


def season_factor(profile: Sequence[float], day: date) -> float:
    """The profile's value on ``day``, interpolated linearly between mid-months."""
    days = 366 if calendar.isleap(day.year) else 365
    position = (day.timetuple().tm_yday - 0.5) / days * 12 - 0.5
    month = math.floor(position)
    frac = position - month
    return profile[month % 12] * (1 - frac) + profile[(month + 1) % 12] * frac


def birth_ordinals(today: date, age: int) -> tuple[int, int]:
    """Ordinals ``(earliest, latest)``: born after ``earliest`` and on or before ``latest`` means ``age`` today.

    Someone born on 29 February counts a year older on 1 March in common years, as
    ``age_on`` in the processors does.
    """
    day = 28 if (today.month, today.day) == (2, 29) else today.day
    latest = date(today.year - age, today.month, day)
    if (today.month, today.day) == (2, 29) and calendar.isleap(latest.year):
        latest = latest.replace(day=29)
    earliest = date(today.year - age - 1, today.month, day)
    if (today.month, today.day) == (2, 29) and calendar.isleap(earliest.year):
        earliest = earliest.replace(day=29)
    return earliest.toordinal(), latest.toordinal()


def local_factor(offset_minutes: int, utc_ms: int) -> float:
    """Clinic-hour x weekday weight at a UTC instant for a place ``offset_minutes`` ahead of UTC."""
    local_ms = utc_ms + offset_minutes * 60_000
    hour = (local_ms // HOUR_MS) % 24
    weekday = (EPOCH_ORDINAL + local_ms // DAY_MS - 1) % 7
    return CLINIC_HOURS[hour] * WEEKDAYS[weekday]


class HourGrid:
    """Hour buckets over ``[start_ms, end_ms)`` with cumulative encounter intensity.

    ``intensity(bucket_start_ms)`` is the expected encounters per hour at that
    hour; partial hours at the edges count in proportion to their length.
    """

    __slots__ = ("cumulative", "lengths", "starts", "total")

    def __init__(self, start_ms: int, end_ms: int, intensity: Callable[[int], float]) -> None:
        self.starts = array("q")
        self.lengths = array("q")
        self.cumulative = array("d")
        running = 0.0
        hour = start_ms - start_ms % HOUR_MS
        while hour < end_ms:
            lo, hi = max(hour, start_ms), min(hour + HOUR_MS, end_ms)
            running += intensity(hour) * (hi - lo) / HOUR_MS
            self.starts.append(lo)
            self.lengths.append(hi - lo)
            self.cumulative.append(running)
            hour += HOUR_MS
        self.total = running
