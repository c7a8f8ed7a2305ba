"""Offset ranges a partition's writes must reproduce exactly.

A sink that names its outputs after offsets (the S3 sink) reports, when it is given
a partition, the ranges ``[start, end)`` of writes it already made or began there.
The buffer then cuts writes at exactly those boundaries, so re-reading the same
offsets (after a crash, a rebalance or a replay) overwrites the same objects with
the same rows instead of writing differently cut, duplicating ones.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from itertools import pairwise

__all__ = ["KnownRanges"]


class KnownRanges:
    """Sorted, non-overlapping half-open offset ranges ``[start, end)``."""

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        cleaned = sorted((s, e) for s, e in ranges if e > s)
        for (_, prev_end), (start, _) in pairwise(cleaned):
            if start < prev_end:
                raise ValueError(f"overlapping offset ranges in {cleaned}")
        self._starts = [s for s, _ in cleaned]
        self._ends = [e for _, e in cleaned]

    def __len__(self) -> int:
        return len(self._starts)

    def __repr__(self) -> str:
        return f"KnownRanges({list(zip(self._starts, self._ends, strict=True))})"

    def as_list(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends, strict=True))

    def end_for(self, start: int) -> int | None:
        """The end of the range that starts exactly at ``start``, if any."""
        i = bisect.bisect_left(self._starts, start)
        if i < len(self._starts) and self._starts[i] == start:
            return self._ends[i]
        return None

    def next_start_after(self, offset: int) -> int | None:
        """The first range start strictly after ``offset``."""
        i = bisect.bisect_right(self._starts, offset)
        return self._starts[i] if i < len(self._starts) else None

    def containing(self, offset: int) -> tuple[int, int] | None:
        """The range with ``start < offset < end`` (strictly inside), if any."""
        i = bisect.bisect_right(self._starts, offset) - 1
        if i >= 0 and self._starts[i] < offset < self._ends[i]:
            return self._starts[i], self._ends[i]
        return None

    def forget_before(self, offset: int) -> None:
        """Drop ranges that end at or before ``offset`` (already written again)."""
        i = bisect.bisect_right(self._ends, offset)
        del self._starts[:i], self._ends[:i]
