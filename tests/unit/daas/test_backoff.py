"""The one retry policy: exponential, capped, jittered within [e * (1 - jitter), e], bounded or not."""

from __future__ import annotations

import itertools
import random

import pytest

from daas.backoff import Backoff, RetriesExhausted
from daas.errors import ConfigurationError


class Extreme(random.Random):
    """Jitter pinned to one end of its range (random() 0 means no reduction)."""

    def __init__(self, high: bool) -> None:
        super().__init__(0)
        self.high = high

    def random(self) -> float:
        return 0.0 if self.high else 1.0


def test_ceilings_double_up_to_the_cap() -> None:
    backoff = Backoff(initial=1.0, factor=2.0, maximum=20.0)
    assert [backoff.ceiling(n) for n in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]


def test_without_jitter_delays_double_until_the_cap_and_reset() -> None:
    backoff = Backoff(initial=0.5, maximum=4.0, jitter=0.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_equal_jitter_bounds_are_half_and_all_of_the_ceiling() -> None:
    low = Backoff(initial=1.0, maximum=20.0, jitter=0.5, rng=Extreme(high=False))
    high = Backoff(initial=1.0, maximum=20.0, jitter=0.5, rng=Extreme(high=True))
    assert [low.delay(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert [high.delay(n) for n in range(7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 20.0, 20.0]


@pytest.mark.parametrize("seed", range(20))
def test_random_delays_stay_in_bounds_and_never_shrink_before_the_cap(seed: int) -> None:
    backoff = Backoff(initial=0.5, maximum=30.0, jitter=0.5, max_retries=10, rng=random.Random(seed))
    delays = list(backoff.delays())
    assert len(delays) == 10
    for n, d in enumerate(delays):
        assert backoff.ceiling(n) / 2 <= d <= backoff.ceiling(n)
    uncapped = [d for n, d in enumerate(delays) if backoff.ceiling(n + 1) < backoff.maximum]
    assert uncapped == sorted(uncapped)


@pytest.mark.parametrize("seed", range(20))
def test_a_factor_above_two_makes_every_equal_jitter_delay_strictly_longer(seed: int) -> None:
    backoff = Backoff(initial=0.1, factor=4.0, maximum=100.0, jitter=0.5, max_retries=4, rng=random.Random(seed))
    for before, after in itertools.pairwise(backoff.delays()):
        assert after >= 2 * before


def test_jitter_spreads_clients_and_stays_under_the_cap() -> None:
    a = [Backoff(rng=random.Random(1)).delay(n) for n in range(5)]
    b = [Backoff(rng=random.Random(2)).delay(n) for n in range(5)]
    assert a != b
    backoff = Backoff(initial=1.0, maximum=8.0, jitter=0.2, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(40)]
    assert 0.8 <= delays[0] <= 1.0 and 1.6 <= delays[1] <= 2.0
    assert all(8.0 * 0.8 <= d <= 8.0 for d in delays[5:])
    assert len(set(delays[5:])) > 1  # jittered, not lock-step


def test_bounded_retries_run_out() -> None:
    backoff = Backoff(max_retries=3)
    assert [backoff.delay(n) is None for n in range(5)] == [False, False, False, True, True]
    assert Backoff(max_retries=0).delay(0) is None
    assert len(list(backoff.delays())) == 3
    for _ in range(3):
        backoff.next_delay()
    with pytest.raises(RetriesExhausted, match="max_retries=3"):
        backoff.next_delay()


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    backoff = Backoff(initial=1.0, maximum=30.0, rng=Extreme(high=True))
    assert backoff.delay(0, retry_after=7.0) == 7.0
    assert backoff.delay(3, retry_after=2.0) == 8.0  # the backoff is longer: keep it
    assert backoff.delay(0, retry_after=3600.0) == 30.0


@pytest.mark.parametrize("kwargs", [{"initial": 0.0}, {"initial": 2.0, "maximum": 1.0}, {"factor": 0.5},
                                    {"jitter": 1.0}, {"max_retries": -1}])
def test_nonsense_is_refused_naming_the_value(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError, match="backoff needs"):
        Backoff(**kwargs)  # type: ignore[arg-type]


def test_there_is_one_backoff_in_the_tree() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    others = [p for folder in ("daas", "sinks", "producers", "warehouse")
              for p in (root / folder).rglob("*.py") if "backoff" in p.name and p != root / "daas" / "backoff.py"]
    assert others == []
