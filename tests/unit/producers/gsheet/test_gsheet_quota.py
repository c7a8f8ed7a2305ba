"""The client-side read quota: never more than max_calls in any window of period seconds."""

from __future__ import annotations

import pytest

from producers.gsheet.quota import RateLimiter


class FakeTime:
    """A clock that only moves when the limiter sleeps (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _limiter(t: FakeTime, max_calls: int = 60, period: float = 60.0) -> RateLimiter:
    return RateLimiter(max_calls, period, clock=t.clock, sleep=t.sleep)


def test_a_full_quota_goes_at_once_and_the_next_call_waits_for_the_window() -> None:
    t = FakeTime()
    limiter = _limiter(t)
    assert [limiter.acquire() for _ in range(60)] == [0.0] * 60
    assert limiter.acquire() == pytest.approx(60.0)
    assert t.now == pytest.approx(1060.0)
    assert limiter.waited == pytest.approx(60.0)


def test_window_slides_call_by_call() -> None:
    t = FakeTime()
    limiter = _limiter(t, max_calls=3, period=10.0)
    granted = []
    for _ in range(3):
        limiter.acquire()
        granted.append(t.now)
        t.now += 2.0  # calls at 1000, 1002, 1004
    for _ in range(3):
        limiter.acquire()
        granted.append(t.now)
    assert granted == pytest.approx([1000.0, 1002.0, 1004.0, 1010.0, 1012.0, 1014.0])
    # Any 10-second window holds at most 3 grants.
    for start in granted:
        assert sum(start <= g < start + 10.0 for g in granted) <= 3


def test_sixty_reads_a_minute_over_a_long_run() -> None:
    t = FakeTime()
    limiter = _limiter(t)
    granted = []
    for _ in range(300):
        limiter.acquire()
        granted.append(t.now)
    assert granted[-1] - granted[0] == pytest.approx(240.0)  # 300 reads take 4 full windows after the first
    for i in range(len(granted) - 60):
        assert granted[i + 60] - granted[i] >= 60.0 - 1e-9


def test_calls_spaced_out_never_wait() -> None:
    t = FakeTime()
    limiter = _limiter(t, max_calls=2, period=1.0)
    for _ in range(10):
        assert limiter.acquire() == 0.0
        t.now += 0.5
    assert t.sleeps == []


@pytest.mark.parametrize(("max_calls", "period"), [(0, 60.0), (60, 0.0), (-1, 1.0)])
def test_nonsense_limits_are_rejected(max_calls: int, period: float) -> None:
    with pytest.raises(ValueError, match="max_calls"):
        RateLimiter(max_calls, period)
