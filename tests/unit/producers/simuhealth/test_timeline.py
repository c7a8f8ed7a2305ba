"""Seasonal curves, birth-date ranges and the backfill hour grid."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from producers.simuhealth.timeline import HOUR_MS, HourGrid, birth_ordinals, local_factor, normalised, season_factor

SAHEL = normalised([0.25, 0.15, 0.12, 0.12, 0.25, 0.55, 1.2, 2.1, 2.6, 2.5, 1.5, 0.6])


def _age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def test_season_factor_is_smooth_over_new_year_and_keeps_the_annual_mean() -> None:
    year = [season_factor(SAHEL, date(2025, 1, 1) + timedelta(days=d)) for d in range(365)]
    assert sum(year) / 365 == pytest.approx(1.0, abs=0.01)
    steepest = max(abs(b - a) for a, b in zip(year, year[1:], strict=False))
    new_year_step = abs(season_factor(SAHEL, date(2025, 12, 31)) - season_factor(SAHEL, date(2026, 1, 1)))
    assert new_year_step <= steepest + 1e-9
    assert season_factor(SAHEL, date(2025, 9, 15)) == pytest.approx(SAHEL[8], abs=0.05)


@pytest.mark.parametrize("age", [0, 1, 4, 12, 55, 99])
def test_birth_ordinals_give_exactly_that_age_on_every_day_including_leap_days(age: int) -> None:
    day = date(2023, 1, 1)
    while day < date(2025, 12, 31):
        earliest, latest = birth_ordinals(day, age)
        assert _age_on(date.fromordinal(latest), day) == age
        assert _age_on(date.fromordinal(earliest + 1), day) == age
        assert _age_on(date.fromordinal(earliest), day) == age + 1
        if latest < day.toordinal():
            assert _age_on(date.fromordinal(latest + 1), day) == age - 1
        day += timedelta(days=1)


def test_local_factor_follows_clinic_hours_and_weekdays() -> None:
    monday_9_utc = (date(2026, 3, 2).toordinal() - date(1970, 1, 1).toordinal()) * 24 * HOUR_MS + 9 * HOUR_MS
    assert local_factor(0, monday_9_utc) == 1.0
    assert local_factor(180, monday_9_utc) == pytest.approx(0.7)  # 12:00 in Nairobi
    assert local_factor(0, monday_9_utc + 5 * 24 * HOUR_MS) < 0.6  # Saturday


def test_hour_grid_weights_partial_hours_by_their_length() -> None:
    grid = HourGrid(HOUR_MS // 2, 3 * HOUR_MS, lambda hour: 10.0)
    assert list(grid.starts) == [HOUR_MS // 2, HOUR_MS, 2 * HOUR_MS]
    assert list(grid.lengths) == [HOUR_MS // 2, HOUR_MS, HOUR_MS]
    assert list(grid.cumulative) == [5.0, 15.0, 25.0] and grid.total == 25.0
