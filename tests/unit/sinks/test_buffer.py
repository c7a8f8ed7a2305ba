"""Cuts are a function of the messages (count, bytes, record-time window, known ranges);
only the idle timer and forced flushes cut by the clock."""

from __future__ import annotations

import pytest

from sinks.base import FlushPolicy, KnownRanges
from sinks.base.buffer import MESSAGE_OVERHEAD, PartitionBuffer
from tests.unit.sinks.fakes import FakeClock, FakeMessage

NO_IDLE = 10_000.0


def cuts(buffer: PartitionBuffer) -> list[tuple[int, int]]:
    """Drain every closed write; return their (first, next) offsets."""
    out = []
    while count := buffer.ready():
        out.append((buffer.peek(count)[0].offset(), buffer.next_offset_after(count)))
        buffer.take(count)
    return out


def test_rotation_on_record_count() -> None:
    buffer = PartitionBuffer(FlushPolicy(max_records=3, record_time_interval_ms=None, idle_seconds=NO_IDLE))
    for offset in range(10):
        buffer.append(FakeMessage(offset))
    assert cuts(buffer) == [(0, 3), (3, 6), (6, 9)]
    assert len(buffer) == 1 and buffer.ready(force=True) == 1


def test_rotation_on_bytes_counts_key_and_value() -> None:
    policy = FlushPolicy(max_records=100, max_bytes=25, record_time_interval_ms=None, idle_seconds=NO_IDLE)
    buffer = PartitionBuffer(policy)
    for offset in range(6):
        buffer.append(FakeMessage(offset, b"x" * 8, _key=b"k" * 2))  # 10 bytes each
    assert cuts(buffer) == [(0, 2), (2, 4)]
    assert buffer.memory == 2 * (10 + MESSAGE_OVERHEAD)


def test_rotation_on_record_time_windows_aligned_to_the_interval() -> None:
    buffer = PartitionBuffer(FlushPolicy(max_records=100, record_time_interval_ms=1000, idle_seconds=NO_IDLE))
    # Late records (timestamp before the window) stay in the open file.
    for offset, ts in enumerate([100, 900, 950, 1000, 400, 1999, 2000, 5000]):
        buffer.append(FakeMessage(offset, _ts=ts))
    assert cuts(buffer) == [(0, 3), (3, 6), (6, 7)]


def test_cuts_do_not_depend_on_where_reading_resumed() -> None:
    policy = FlushPolicy(max_records=4, record_time_interval_ms=1000, idle_seconds=NO_IDLE)
    messages = [FakeMessage(o, _ts=ts) for o, ts in enumerate([10, 20, 30, 40, 50, 1100, 1200, 1300, 1400, 2500])]
    whole = PartitionBuffer(policy)
    for m in messages:
        whole.append(m)
    first = cuts(whole)
    resumed = PartitionBuffer(policy)  # a restart at the committed offset of the first write
    for m in messages[first[0][1]:]:
        resumed.append(m)
    assert cuts(resumed) == first[1:]


def test_idle_timer_flushes_the_open_write() -> None:
    clock = FakeClock()
    buffer = PartitionBuffer(FlushPolicy(max_records=100, idle_seconds=2.0), monotonic=clock)
    buffer.append(FakeMessage(0))
    buffer.append(FakeMessage(1))
    clock.now += 1.9
    assert buffer.ready() == 0
    clock.now += 0.2
    assert buffer.ready() == 2
    assert buffer.next_offset_after(2) == 2


def test_known_ranges_win_over_the_policy_and_cut_exactly() -> None:
    policy = FlushPolicy(max_records=2, record_time_interval_ms=None, idle_seconds=NO_IDLE)
    buffer = PartitionBuffer(policy, KnownRanges([(10, 15), (15, 16), (20, 23)]))
    for offset in [*range(10, 17), 17, 18, 19, 20, 21, 22, 23]:
        buffer.append(FakeMessage(offset))
    # [10,15) keeps 5 records although max_records is 2; a new policy run starts at 16
    # and is cut before the known start 20; [20,23) closes as soon as 22 arrives.
    assert cuts(buffer) == [(10, 15), (15, 16), (16, 18), (18, 20), (20, 23)]


def test_a_known_range_missing_its_last_offsets_waits_for_the_consumer_position() -> None:
    clock = FakeClock()
    buffer = PartitionBuffer(FlushPolicy(idle_seconds=1.0), KnownRanges([(0, 5)]), monotonic=clock)
    for offset in range(4):  # offset 4 was a transaction marker: never delivered
        buffer.append(FakeMessage(offset))
    clock.now += 5
    assert buffer.ready(position=lambda: 4) == 0
    assert buffer.ready(position=lambda: 5) == 4
    assert buffer.next_offset_after(4) == 4


def test_taking_part_of_a_write_is_refused() -> None:
    buffer = PartitionBuffer(FlushPolicy(max_records=2, record_time_interval_ms=None, idle_seconds=NO_IDLE))
    for offset in range(5):
        buffer.append(FakeMessage(offset))
    with pytest.raises(ValueError, match="not the end of a write"):
        buffer.take(3)
    buffer.take(2)
    assert buffer.first_offset == 2 and buffer.ready() == 2


def test_known_ranges_refuse_overlaps_and_find_containing_ranges() -> None:
    with pytest.raises(ValueError, match="overlapping"):
        KnownRanges([(0, 10), (5, 12)])
    ranges = KnownRanges([(0, 10), (10, 20)])
    assert ranges.containing(5) == (0, 10)
    assert ranges.containing(10) is None
    assert ranges.next_start_after(0) == 10
    ranges.forget_before(10)
    assert ranges.as_list() == [(10, 20)]


def test_a_write_of_the_open_tail_is_sealed_so_later_messages_start_the_next_write() -> None:
    buffer = PartitionBuffer(FlushPolicy(max_records=100, idle_seconds=0.0))
    for offset in range(3):
        buffer.append(FakeMessage(offset))
    count = buffer.ready()
    buffer.seal(count)
    buffer.append(FakeMessage(3))  # arrives while the write of [0, 3) is in flight
    buffer.take(count)
    assert (buffer.first_offset, len(buffer), buffer.ready()) == (3, 1, 1)
