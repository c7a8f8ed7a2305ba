"""The forwarding decision and one partition's de-duplication state, without Kafka."""

from __future__ import annotations

from stream_processors.dedup import PartitionState, Seen, decide, decode_entry, encode_entry

HOUR = 3600 * 1000
WINDOW = 24 * HOUR


def _seen(version: int = 1, at: int = 0, district: str = "NG|Ikeja", group: str = "malaria",
          week: str = "2026W10") -> Seen:
    return Seen(version, at, district, group, week)


def test_a_new_record_is_forwarded_and_counted_once() -> None:
    assert decide(None, _seen(), WINDOW) == (True, [(_seen(), 1)])


def test_a_resend_within_the_window_is_dropped_and_counts_nothing() -> None:
    first = _seen(version=5, at=0)
    assert decide(first, _seen(version=5, at=WINDOW - 1), WINDOW) == (False, [])
    assert decide(first, _seen(version=4, at=HOUR), WINDOW) == (False, [])


def test_a_resend_after_the_window_is_forwarded_but_not_counted_again() -> None:
    first = _seen(version=5, at=0)
    assert decide(first, _seen(version=5, at=WINDOW), WINDOW) == (True, [])


def test_a_correction_that_moves_the_record_moves_its_case() -> None:
    first = _seen(version=1, at=0, group="malaria", week="2026W10")
    moved = _seen(version=2, at=HOUR, group="typhoid", week="2026W11")
    assert decide(first, moved, WINDOW) == (True, [(first, -1), (moved, 1)])
    in_place = _seen(version=2, at=HOUR)
    assert decide(first, in_place, WINDOW) == (True, [])


def test_entries_round_trip_through_the_changelog_encoding() -> None:
    seen = _seen(version=1_780_000_000_123, at=1_780_000_000_999, district="CD|Kasaï-Oriental")
    assert decode_entry(encode_entry(seen)) == seen


def test_entries_expire_a_window_after_they_were_last_forwarded() -> None:
    state = PartitionState(WINDOW)
    state.apply([("a", _seen(at=0)), ("b", _seen(at=HOUR)), ("c", _seen(at=2 * HOUR))])
    assert state.expired(WINDOW + HOUR - 1) == ["a"]
    assert state.expired(WINDOW + HOUR) == ["a", "b"]
    state.apply([("a", _seen(at=WINDOW))])  # forwarded again: renewed
    assert state.expired(WINDOW + HOUR) == ["b"]
    state.apply([("b", None)])
    assert len(state) == 2 and state.get("b") is None
    assert state.expired(2 * WINDOW) == ["c", "a"]
    assert state.stream_time == WINDOW


def test_a_restored_partition_expires_in_forwarding_order() -> None:
    state = PartitionState(WINDOW)
    state.restored({"late": _seen(at=3 * HOUR), "early": _seen(at=HOUR)})
    assert state.stream_time == 3 * HOUR
    assert state.expired(WINDOW + 3 * HOUR) == ["early", "late"]
