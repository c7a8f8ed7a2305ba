"""Client-side limiter that keeps the poller inside the Sheets API read quota.

The Sheets API allows 60 read requests per minute per user (per service account)
by default and answers 429 beyond that. ``RateLimiter`` enforces the quota before a
request is sent: at most ``max_calls`` acquisitions in any window of ``period``
seconds (a sliding log, exact rather than a token bucket's average). The Google
source calls ``acquire`` once for every HTTP attempt, retries included, because every
attempt counts against the quota.

The limiter is per process; run one poller per service account, or give each its
share of the quota.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["SHEETS_READS_PER_MINUTE", "RateLimiter"]

SHEETS_READS_PER_MINUTE = 60


class RateLimiter:
    """At most ``max_calls`` in any ``period`` seconds; ``acquire`` sleeps until allowed.

    ``clock`` (monotonic seconds) and ``sleep`` are injectable so tests drive time.
    """

    def __init__(self, max_calls: int = SHEETS_READS_PER_MINUTE, period: float = 60.0, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if max_calls < 1 or period <= 0:
            raise ValueError(f"a rate limit needs max_calls >= 1 and period > 0, got {max_calls}/{period}s")
        self.max_calls = max_calls
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._granted: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited = 0.0  # total seconds spent waiting, for progress logs

    def acquire(self) -> float:
        """Block until one more call fits the quota; return how long it waited."""
        waited = 0.0
        with self._lock:
            while True:
                now = self._clock()
                while self._granted and self._granted[0] <= now - self.period:
                    self._granted.popleft()
                if len(self._granted) < self.max_calls:
                    self._granted.append(now)
                    self.waited += waited
                    return waited
                pause = self._granted[0] + self.period - now
                self._sleep(pause)
                waited += pause
