"""Capped exponential backoff with jitter, for retrying a destination that is away.

The runner keeps one per topic partition: each failed write asks ``next_delay()``,
each successful one calls ``reset()``. Full jitter around the exponential step keeps
many sink instances from retrying a recovering server in lock-step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass
class Backoff:
    """Delays ``initial * factor**n``, capped at ``maximum``, each scaled by a random
    factor in ``[1 - jitter, 1 + jitter]`` (never above ``maximum``)."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2
    attempts: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError(f"backoff needs 0 < initial ({self.initial}) <= maximum ({self.maximum})")
        if self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError(f"backoff needs factor >= 1 and 0 <= jitter < 1, got {self.factor}, {self.jitter}")

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one more failure."""
        step = min(self.maximum, self.initial * self.factor ** min(self.attempts, 64))
        self.attempts += 1
        scaled = step * (1 + self.jitter * (2 * self._rng.random() - 1))
        return min(self.maximum, scaled)

    def reset(self) -> None:
        """Forget past failures (called after a successful write)."""
        self.attempts = 0
