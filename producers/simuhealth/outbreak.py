"""Outbreaks to inject into SimuHealth traffic, for surveillance demos and tests."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, timedelta

from daas.errors import ConfigurationError

__all__ = ["Outbreak", "parse_week"]

_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$")


def parse_week(value: str | date) -> date:
    """First day of an outbreak: the Monday of ISO week ``2026W10`` / ``2026-W10``, or the date itself."""
    if isinstance(value, date):
        return value
    match = _WEEK.match(value.strip().upper())
    if not match:
        raise ConfigurationError(f"outbreak start_week {value!r} must be an ISO week such as 2026W10, or a date")
    year, week = int(match[1]), int(match[2])
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise ConfigurationError(f"outbreak start_week {value!r}: {year} has no ISO week {week}") from exc


@dataclass(frozen=True, slots=True)
class Outbreak:
    """Raise one disease's incidence in one district for some weeks.

    ``disease`` is a diagnosis group (``cholera``) or an ICD-10 code (``A00.9``);
    ``district`` a district id (``NG-KN-DAL``) or its unambiguous name (``Dala``).
    During ``weeks`` weeks from ``start_week`` that disease's expected cases there
    are ``multiplier`` times the usual (seasonality included); ``multiplier`` >= 1.
    """

    disease: str
    district: str
    start_week: str | date
    weeks: int
    multiplier: float

    def __post_init__(self) -> None:
        if not self.disease.strip() or not self.district.strip():
            raise ConfigurationError("an outbreak needs a disease (group or ICD-10 code) and a district")
        if not isinstance(self.weeks, int) or self.weeks < 1:
            raise ConfigurationError(f"outbreak weeks must be a whole number >= 1, got {self.weeks!r}")
        if not math.isfinite(self.multiplier) or self.multiplier < 1:
            raise ConfigurationError(f"outbreak multiplier must be a finite number >= 1, got {self.multiplier!r}")
        parse_week(self.start_week)

    @classmethod
    def parse(cls, spec: str) -> Outbreak:
        """``DISEASE:DISTRICT:WEEK:WEEKS:MULTIPLIER``, e.g. ``cholera:Ikeja:2026W44:3:3`` (the CLI's form)."""
        parts = spec.split(":")
        if len(parts) != 5:
            raise ConfigurationError(f"outbreak {spec!r} must be DISEASE:DISTRICT:WEEK:WEEKS:MULTIPLIER, "
                                     "e.g. cholera:Ikeja:2026W44:3:3")
        disease, district, week, weeks, multiplier = (p.strip() for p in parts)
        try:
            return cls(disease, district, week, int(weeks), float(multiplier))
        except ValueError as exc:
            raise ConfigurationError(f"outbreak {spec!r}: WEEKS is a whole number and MULTIPLIER a number "
                                     f"({exc})") from exc

    @property
    def first_day(self) -> date:
        """The first day the outbreak is active."""
        return parse_week(self.start_week)

    @property
    def end_day(self) -> date:
        """The first day after the outbreak."""
        return self.first_day + timedelta(weeks=self.weeks)
