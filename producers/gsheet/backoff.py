"""How long to wait before retrying a Sheets API call that answered 429, 408 or 5xx.

Exponential with "equal jitter": the n-th retry (0-based) waits a random time in
``[e/2, e]`` where ``e = min(cap, base * factor**n)``. Half of each delay is random,
so pollers that were throttled together do not retry together; with ``factor >= 2``
no delay is shorter than the one before it until the cap is reached, and with
``factor = f > 2`` each is at least ``f/2`` times the previous one.
A ``Retry-After`` the server sends is honoured (up to the cap). After
``max_retries`` retries the caller gives up and raises ``SheetUnavailable``.

The Google source asks ``delay`` for each retry; tests inject ``rng`` to pin it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["BackoffPolicy"]


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff with equal jitter, capped, for a bounded number of retries."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 64.0
    max_retries: int = 8
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base or self.factor < 1 or self.max_retries < 0:
            raise ValueError(
                f"backoff needs base > 0, cap >= base, factor >= 1 and max_retries >= 0; got "
                f"base={self.base}, cap={self.cap}, factor={self.factor}, max_retries={self.max_retries}")

    def ceiling(self, retry: int) -> float:
        """The upper bound of the ``retry``-th delay (0-based), before jitter."""
        return min(self.cap, self.base * self.factor ** retry)

    def delay(self, retry: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before the ``retry``-th retry, or None when retries are used up."""
        if retry >= self.max_retries:
            return None
        ceiling = self.ceiling(retry)
        jittered = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        if retry_after is not None:
            return max(jittered, min(retry_after, self.cap))
        return jittered
