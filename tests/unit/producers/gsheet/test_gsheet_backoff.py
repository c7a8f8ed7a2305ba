"""The retry schedule: exponential, jittered within [e/2, e], capped, bounded."""

from __future__ import annotations

import itertools
import random

import pytest

from producers.gsheet.backoff import BackoffPolicy


class Extreme(random.Random):
    """Jitter pinned to one end of its range."""

    def __init__(self, high: bool) -> None:
        super().__init__(0)
        self.high = high

    def uniform(self, a: float, b: float) -> float:
        return b if self.high else a


def test_ceilings_double_up_to_the_cap() -> None:
    policy = BackoffPolicy(base=1.0, factor=2.0, cap=20.0, max_retries=7)
    assert [policy.ceiling(n) for n in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]


def test_jitter_bounds_are_half_and_all_of_the_ceiling() -> None:
    low = BackoffPolicy(base=1.0, cap=20.0, max_retries=7, rng=Extreme(high=False))
    high = BackoffPolicy(base=1.0, cap=20.0, max_retries=7, rng=Extreme(high=True))
    assert [low.delay(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert [high.delay(n) for n in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]


@pytest.mark.parametrize("seed", range(20))
def test_random_delays_stay_in_bounds_and_never_shrink_before_the_cap(seed: int) -> None:
    policy = BackoffPolicy(base=0.5, cap=30.0, max_retries=10, rng=random.Random(seed))
    delays = [policy.delay(n) for n in range(10)]
    assert all(d is not None for d in delays)
    for n, d in enumerate(delays):
        assert policy.ceiling(n) / 2 <= d <= policy.ceiling(n)
    uncapped = [d for n, d in enumerate(delays) if policy.ceiling(n + 1) < policy.cap]
    assert uncapped == sorted(uncapped)


@pytest.mark.parametrize("seed", range(20))
def test_a_factor_above_two_makes_every_delay_strictly_longer(seed: int) -> None:
    policy = BackoffPolicy(base=0.1, factor=4.0, cap=100.0, max_retries=4, rng=random.Random(seed))
    delays = [policy.delay(n) for n in range(4)]
    for before, after in itertools.pairwise(delays):
        assert after >= 2 * before  # type: ignore[operator]


def test_jitter_differs_between_pollers() -> None:
    a = [BackoffPolicy(rng=random.Random(1)).delay(n) for n in range(5)]
    b = [BackoffPolicy(rng=random.Random(2)).delay(n) for n in range(5)]
    assert a != b


def test_retries_run_out() -> None:
    policy = BackoffPolicy(max_retries=3)
    assert [policy.delay(n) is None for n in range(5)] == [False, False, False, True, True]
    assert BackoffPolicy(max_retries=0).delay(0) is None


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    policy = BackoffPolicy(base=1.0, cap=30.0, rng=Extreme(high=True))
    assert policy.delay(0, retry_after=7.0) == 7.0
    assert policy.delay(3, retry_after=2.0) == 8.0  # the backoff is longer: keep it
    assert policy.delay(0, retry_after=3600.0) == 30.0


@pytest.mark.parametrize("kwargs", [{"base": 0.0}, {"base": 2.0, "cap": 1.0}, {"factor": 0.5}, {"max_retries": -1}])
def test_nonsense_policies_are_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="backoff needs"):
        BackoffPolicy(**kwargs)  # type: ignore[arg-type]
