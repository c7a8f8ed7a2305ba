"""One partition's messages that are consumed but not yet written, cut into writes.

Cuts are decided as messages arrive, from the messages alone: a write closes before
the message that would exceed the policy's record or byte limit or that opens a new
record-time window, and exactly at the boundaries of known ranges (offsets the sink
already wrote or began to write). Only the idle timer, a forced flush (budget,
shutdown) and the end of the stream cut the last, still open write by the clock.
The runner owns one buffer per assigned partition.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from sinks.base.batch import Message
from sinks.base.policy import FlushPolicy
from sinks.base.ranges import KnownRanges

__all__ = ["MESSAGE_OVERHEAD", "PartitionBuffer"]

# Bytes a buffered message costs beyond its key and value (Python and librdkafka
# objects); counted against the memory budget, not against the policy's file size.
MESSAGE_OVERHEAD = 320


class PartitionBuffer:
    """Buffered messages of one topic partition, in offset order."""

    def __init__(self, policy: FlushPolicy, ranges: KnownRanges | None = None, *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.ranges = ranges if ranges is not None else KnownRanges()
        self._now = monotonic
        self._messages: list[Message] = []
        self._sizes: list[int] = []
        self._closed: list[tuple[int, int]] = []  # (end index, bytes) of closed writes
        self.memory = 0
        self.last_append = self._now()
        self._reset_open(0)

    def _reset_open(self, start_index: int) -> None:
        self._open_start = start_index
        self._open_count = 0
        self._open_bytes = 0
        self._window_end: int | None = None
        self._range_end: int | None = None
        self._next_start: int | None = None

    def __len__(self) -> int:
        return len(self._messages)

    @property
    def first_offset(self) -> int | None:
        return self._messages[0].offset() if self._messages else None

    @property
    def next_offset(self) -> int | None:
        """The offset after the last buffered message."""
        return (self._messages[-1].offset() or 0) + 1 if self._messages else None

    def _close_open(self) -> None:
        self._closed.append((len(self._messages), self._open_bytes))
        self._reset_open(len(self._messages))

    def append(self, msg: Message) -> None:
        """Add the next message of the partition (offsets must increase)."""
        self.extend((msg,))

    def extend(self, messages: Sequence[Message]) -> None:
        """Add the next messages of the partition, in offset order (the runner's hot path)."""
        policy = self.policy
        max_records, max_bytes, interval = policy.max_records, policy.max_bytes, policy.record_time_interval_ms
        ranges = self.ranges
        for msg in messages:
            offset = msg.offset() or 0
            value, key = msg.value(), msg.key()
            size = (len(value) if value else 0) + (len(key) if key else 0)
            ts = msg.timestamp()[1]
            if self._open_count:
                range_end = self._range_end
                if range_end is not None:
                    close = offset >= range_end
                else:
                    next_start = self._next_start
                    close = ((next_start is not None and offset >= next_start) or self._open_count >= max_records
                             or self._open_bytes + size > max_bytes
                             or (self._window_end is not None and ts >= self._window_end))
                if close:
                    self._close_open()
            if not self._open_count:
                self._range_end = ranges.end_for(offset)
                self._next_start = ranges.next_start_after(offset)
                self._window_end = (ts // interval + 1) * interval if interval and ts >= 0 else None
            self._messages.append(msg)
            self._sizes.append(size)
            self._open_count += 1
            self._open_bytes += size
            self.memory += size + MESSAGE_OVERHEAD
            if self._range_end is not None and offset + 1 >= self._range_end:
                self._close_open()
        if messages:
            self.last_append = self._now()

    def ready(self, *, force: bool = False, position: Callable[[], int | None] | None = None) -> int:
        """How many leading messages form the next write, 0 if none is due yet.

        A closed write is always due. The open one is due when forced, or when the
        partition has been idle for ``policy.idle_seconds`` — unless it must end at a
        known boundary the consumer has not reached yet (``position`` tells the
        consumer's next offset; control records can leave it past the last message).
        """
        if self._closed:
            return self._closed[0][0]
        if not self._messages:
            return 0
        if force:
            return len(self._messages)
        if self._now() - self.last_append < self.policy.idle_seconds:
            return 0
        if self._range_end is not None:
            reached = position() if position is not None else None
            if reached is None or reached < self._range_end:
                return 0
        return len(self._messages)

    def seal(self, count: int) -> None:
        """A write of the first ``count`` messages begins: if that includes the open
        write, close it there, so messages appended meanwhile start the next write."""
        if count == len(self._messages) and self._open_count:
            self._close_open()

    def next_offset_after(self, count: int) -> int:
        """The offset right after a write of the first ``count`` messages: the next
        message's offset when there is one (so writes tile the offsets), else last + 1."""
        if count < len(self._messages):
            return self._messages[count].offset() or 0
        return (self._messages[count - 1].offset() or 0) + 1

    def peek(self, count: int) -> Sequence[Message]:
        return self._messages[:count]

    def take(self, count: int) -> None:
        """Drop the first ``count`` messages, a count ``ready`` returned (they were written)."""
        if count <= 0:
            return
        if count < len(self._messages) and count not in {end for end, _ in self._closed}:
            raise ValueError(f"cannot take {count} messages: not the end of a write")
        self.memory -= sum(self._sizes[:count]) + MESSAGE_OVERHEAD * min(count, len(self._sizes))
        del self._messages[:count], self._sizes[:count]
        if not self._messages:
            self._closed = []
            self._reset_open(0)
            return
        self._closed = [(end - count, size) for end, size in self._closed if end > count]
        self._open_start -= count
