"""The one retry policy: capped exponential delays with jitter, optionally bounded.

The ``n``-th retry (0-based) waits a random time in ``[e * (1 - jitter), e]`` where
``e = min(maximum, initial * factor**n)``: never above the cap, and with
``factor >= 1 / (1 - jitter)`` never shorter than the delay before it until the cap
is reached. The random part keeps many clients that failed together (sink instances,
sheet pollers) from retrying a recovering server in lock-step. A ``Retry-After`` the
server sent is honoured up to the cap.

Two ways to use it:

- stateless, by retry number: ``delay(retry, retry_after)`` (None when
  ``max_retries`` are used up) — the Sheets API client; ``delays()`` iterates them;
- stateful, one per thing that fails: ``next_delay()`` after each failure, ``reset()``
  after a success — the sink runner keeps one per topic partition.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from daas.errors import ConfigurationError, DaasError

__all__ = ["Backoff", "RetriesExhausted"]


class RetriesExhausted(DaasError):
    """``next_delay()`` was asked for more retries than ``max_retries``."""


@dataclass
class Backoff:
    """Capped exponential backoff with jitter; unbounded unless ``max_retries`` is given."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2
    max_retries: int | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    attempts: int = 0  # failures counted by next_delay() since the last reset()

    def __post_init__(self) -> None:
        problems = []
        if not 0 < self.initial <= self.maximum:
            problems.append(f"0 < initial ({self.initial}) <= maximum ({self.maximum})")
        if self.factor < 1:
            problems.append(f"factor >= 1 (got {self.factor})")
        if not 0 <= self.jitter < 1:
            problems.append(f"0 <= jitter < 1 (got {self.jitter})")
        if self.max_retries is not None and self.max_retries < 0:
            problems.append(f"max_retries >= 0 or None (got {self.max_retries})")
        if problems:
            raise ConfigurationError("backoff needs " + ", ".join(problems))

    def ceiling(self, retry: int) -> float:
        """The longest the ``retry``-th delay (0-based) can be."""
        return min(self.maximum, self.initial * self.factor ** min(retry, 64))

    def delay(self, retry: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before the ``retry``-th retry (0-based), or None when retries are used up."""
        if self.max_retries is not None and retry >= self.max_retries:
            return None
        ceiling = self.ceiling(retry)
        jittered = ceiling * (1 - self.jitter * self.rng.random())
        if retry_after is not None:
            return max(jittered, min(retry_after, self.maximum))
        return jittered

    def delays(self) -> Iterator[float]:
        """The delays of every retry allowed, in order (for ever when unbounded)."""
        retry = 0
        while (delay := self.delay(retry)) is not None:
            yield delay
            retry += 1

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one more failure."""
        delay = self.delay(self.attempts)
        if delay is None:
            raise RetriesExhausted(f"no retry left after {self.attempts} (max_retries={self.max_retries})")
        self.attempts += 1
        return delay

    def reset(self) -> None:
        """Forget past failures (after a success)."""
        self.attempts = 0
