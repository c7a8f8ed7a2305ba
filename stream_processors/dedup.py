"""What the processor forwarded, per input partition: de-duplication and where each record was counted.

For every record it forwards, the processor remembers ``record_id -> Seen``: the
record's version, when it was forwarded (the input record's Kafka timestamp) and
where surveillance counted it (district, diagnosis group, ISO week). Two rules use it
(:func:`decide`):

* a re-sent record (same ``record_id``, same or older ``source_version``) within
  the window is not forwarded again;
* a newer version that moves the record to another district, group or week takes
  its case out of the old count and into the new one.

Time is the input's time, not the wall clock: the window is measured between input
timestamps, and an entry expires once the partition's newest input timestamp is
``window_ms`` past it. So the decisions depend on nothing but the partition's history,
and re-processing a batch (after a crash, an aborted transaction or a replay)
decides exactly as the first time did.

A record's key fixes its input partition, so each partition's entries are
independent: :class:`PartitionState` holds one partition's, and its durable copy is
the same partition of a compacted changelog topic (``stream_processors.changelog``).
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

__all__ = ["PartitionState", "Seen", "decide", "decode_entry", "encode_entry"]


class Seen(NamedTuple):
    """What is remembered of a forwarded record."""

    version: int
    forwarded_ms: int
    district: str  # cases.district_key()
    diagnosis_group: str
    epi_week: str

    def place(self) -> tuple[str, str, str]:
        """Where the record is counted."""
        return self.district, self.diagnosis_group, self.epi_week


def decide(previous: Seen | None, current: Seen, window_ms: int) -> tuple[bool, list[tuple[Seen, int]]]:
    """Whether to forward ``current``, and the case changes forwarding makes (where, +1 or -1)."""
    if previous is None:
        return True, [(current, 1)]
    if previous.version >= current.version and current.forwarded_ms - previous.forwarded_ms < window_ms:
        return False, []
    if previous.place() != current.place():
        return True, [(previous, -1), (current, 1)]
    return True, []


# A changelog entry: its fields joined by the ASCII unit separator, which no reference
# name contains; cheaper than JSON on a path taken once per forwarded record.
_SEP = "\x1f"


def encode_entry(seen: Seen) -> bytes:
    return f"{seen.version}{_SEP}{seen.forwarded_ms}{_SEP}{seen.district}{_SEP}{seen.diagnosis_group}{_SEP}" \
           f"{seen.epi_week}".encode()


def decode_entry(value: bytes) -> Seen:
    version, forwarded_ms, district, group, week = value.decode().split(_SEP)
    # Interned: a partition holds many entries and few distinct places.
    return Seen(int(version), int(forwarded_ms), sys.intern(district), sys.intern(group), sys.intern(week))


class PartitionState:
    """One input partition's entries, forgotten ``window_ms`` after the record was last forwarded.

    Read with :meth:`get`; changed only through :meth:`apply`, after the batch that
    made the changes is durable (acknowledged, or committed in its transaction).
    """

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.stream_time = 0  # the newest input timestamp applied
        self._entries: dict[str, Seen] = {}
        # (forwarded_ms, record_id) in the order they were applied; an entry whose time
        # no longer matches was forwarded again since, and is skipped.
        self._expiry: deque[tuple[int, str]] = deque()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, record_id: str) -> Seen | None:
        return self._entries.get(record_id)

    def expired(self, now_ms: int) -> list[str]:
        """The record ids whose window has passed at input time ``now_ms`` (nothing changes)."""
        out = []
        for forwarded_ms, record_id in self._expiry:
            if now_ms - forwarded_ms < self.window_ms:
                break
            current = self._entries.get(record_id)
            if current is not None and current.forwarded_ms == forwarded_ms:
                out.append(record_id)
        return out

    def apply(self, changes: Iterable[tuple[str, Seen | None]]) -> None:
        """Apply a durable batch's changes in order: ``None`` forgets the record."""
        entries, expiry = self._entries, self._expiry
        for record_id, seen in changes:
            if seen is None:
                entries.pop(record_id, None)
                continue
            entries[record_id] = seen
            expiry.append((seen.forwarded_ms, record_id))
            if seen.forwarded_ms > self.stream_time:
                self.stream_time = seen.forwarded_ms
        while expiry:
            forwarded_ms, record_id = expiry[0]
            current = entries.get(record_id)
            if current is not None and current.forwarded_ms == forwarded_ms:
                break
            expiry.popleft()  # forgotten or forwarded again: nothing left to expire here

    def restored(self, entries: dict[str, Seen]) -> None:
        """Replace everything with what the changelog holds (the last value per record)."""
        self._entries = entries
        ordered = sorted((seen.forwarded_ms, record_id) for record_id, seen in entries.items())
        self._expiry = deque(ordered)
        self.stream_time = ordered[-1][0] if ordered else 0
