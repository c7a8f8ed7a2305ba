"""Backoff grows exponentially, is capped, jittered within its bounds, and resets."""

from __future__ import annotations

import random

import pytest

from sinks.base import Backoff


def test_delays_double_until_the_cap_without_jitter() -> None:
    backoff = Backoff(initial=0.5, maximum=4.0, jitter=0.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_jitter_stays_within_its_band_and_never_exceeds_the_cap() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0, jitter=0.2, _rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(40)]
    assert 0.8 <= delays[0] <= 1.2
    assert 1.6 <= delays[1] <= 2.4
    assert all(d <= 8.0 for d in delays)
    assert min(delays[5:]) >= 8.0 * 0.8
    assert len(set(delays[5:])) > 1  # jittered, not lock-step


@pytest.mark.parametrize("kwargs", [{"initial": 0}, {"initial": 5, "maximum": 1}, {"factor": 0.5}, {"jitter": 1.0}])
def test_nonsense_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)
