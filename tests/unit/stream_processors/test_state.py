"""The processor's table state on real Faust memory-store tables (no broker needed)."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import faust
import pytest

from stream_processors.state import CaseMembers, DedupState, Seen
from stream_processors.surveillance import shift_week

WINDOW_MS = 60_000


class Recorder:
    """A sender that keeps what it was given, as Kafka would receive it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int | None, Any, Any]] = []

    async def send(self, event: Any, topic: str, key: bytes | None, value: bytes | None,
                   headers: list[tuple[str, bytes]] | None = None, *, partition: int | None = None) -> None:
        assert event == f"event-of-{partition}"  # the transaction is picked by the input partition
        self.sent.append((topic, partition, json.loads(key), None if value is None else json.loads(value)))


def table(name: str) -> Any:
    app = faust.App(f"state-test-{name}", store="memory://")
    return app.Table(name, default=lambda: None, partitions=4,
                     schema=faust.Schema(key_serializer="json", value_serializer="json"))


def changes(state: Any, partitions: range = range(4)) -> list[tuple[str, int | None, Any, Any]]:
    recorder = Recorder()
    asyncio.run(state.table.send_changes(recorder, {p: f"event-of-{p}" for p in partitions}))
    return recorder.sent


def test_dedup_marks_go_to_the_changelog_at_the_input_partition() -> None:
    t = table("dedup-marks")
    dedup = DedupState(t, WINDOW_MS)
    dedup.mark("r1", Seen(5, 1_000, "NG|Ikeja|malaria", "2026W15"), partition=2)
    assert dedup.get("r1") == Seen(5, 1_000, "NG|Ikeja|malaria", "2026W15")
    assert t.data._key_partition["r1"] == 2  # so a rebalance drops it with its partition
    assert changes(dedup) == [(t.changelog_topic.get_topic_name(), 2, "r1", [5, 1_000, "NG|Ikeja|malaria", "2026W15"])]
    assert changes(dedup) == []  # sent once


def test_dedup_entries_expire_with_tombstones_once_the_window_has_passed() -> None:
    t = table("dedup-expiry")
    dedup = DedupState(t, WINDOW_MS)
    dedup.mark("old", Seen(1, 0, "s", "2026W01"), partition=0)
    dedup.mark("again", Seen(1, 10, "s", "2026W01"), partition=0)
    dedup.mark("other-partition", Seen(1, 0, "s", "2026W01"), partition=1)
    dedup.mark("again", Seen(2, 50_000, "s", "2026W01"), partition=0)  # forwarded again later
    changes(dedup)
    assert dedup.expire({0}, now_ms=WINDOW_MS - 1) == 0
    assert dedup.expire({0}, now_ms=WINDOW_MS + 10) == 1  # "again" was renewed at 50 s
    assert dedup.get("old") is None and dedup.get("again") is not None
    assert dedup.get("other-partition") is not None  # only the partitions asked for are swept
    assert changes(dedup) == [(t.changelog_topic.get_topic_name(), 0, "old", None)]
    assert "old" not in t.data._key_partition
    assert dedup.expire({0, 1}, now_ms=50_000 + WINDOW_MS) == 2
    assert len(dedup) == 0 and len(t.data) == 0


def test_dedup_rebuild_reindexes_what_recovery_left_in_the_store() -> None:
    t = table("dedup-rebuild")
    first = DedupState(t, WINDOW_MS)
    for n in range(10):
        first.mark(f"r{n}", Seen(1, 1_000 * (10 - n), "s", "2026W01"), partition=n % 4)
    recovered = DedupState(t, WINDOW_MS)  # a new worker: the store came back from the changelog
    recovered.rebuild()
    assert len(recovered) == 10
    assert recovered.expire({0, 1, 2, 3}, now_ms=WINDOW_MS + 5_000) == 5  # forwarded at 1..5 s
    assert sorted(k for k in t.data) == [f"r{n}" for n in range(5)]


def test_counting_is_idempotent_under_replay_and_follows_corrections() -> None:
    members = CaseMembers(table("members"), horizon_weeks=16)
    assert members.add("NG|Ikeja|malaria", "2026W15", "r1", 0)
    assert not members.add("NG|Ikeja|malaria", "2026W15", "r1", 0)  # replayed: no change
    members.add("NG|Ikeja|malaria", "2026W15", "r2", 0)
    assert members.count("NG|Ikeja|malaria", "2026W15") == 2
    # A newer version of r2 is diarrhoeal: removed from malaria, added there.
    assert members.remove("NG|Ikeja|malaria", "2026W15", "r2", 0)
    assert not members.remove("NG|Ikeja|malaria", "2026W15", "r2", 0)
    members.add("NG|Ikeja|diarrhoeal", "2026W15", "r2", 0)
    assert (members.count("NG|Ikeja|malaria", "2026W15"), members.count("NG|Ikeja|diarrhoeal", "2026W15")) == (1, 1)


def test_weeks_beyond_the_horizon_are_swept_and_their_cases_are_late() -> None:
    t = table("horizon")
    members = CaseMembers(t, horizon_weeks=10)
    members.add("s", "2026W01", "a", 1)
    members.add("s", "2026W05", "b", 1)
    members.add("other", "2026W01", "c", 2)
    members.add("s", "2026W11", "d", 1)  # W01 is now 10 weeks back: outside a 10-week horizon
    assert members.oldest_kept(1) == "2026W02"
    assert members.sweep(1) == [("s", "2026W01")]
    assert members.count("s", "2026W01") == 0 and members.count("other", "2026W01") == 1
    assert members.is_late(1, "2026W01") and not members.is_late(1, "2026W02") and not members.is_late(2, "2026W01")
    assert (changes(members)[-1][1:]) == (1, "s|2026W01|a", None)
    # Detection judges a week only while its 9-week baseline is kept.
    assert members.is_evaluable(1, "2026W11") and not members.is_evaluable(1, "2026W10")
    assert members.is_evaluable(3, "2026W01")  # nothing seen there yet


def test_the_horizon_must_cover_the_baseline() -> None:
    with pytest.raises(ValueError, match="baseline"):
        CaseMembers(table("short"), horizon_weeks=9)


def test_crashes_and_replays_count_each_record_once() -> None:
    """However often a worker dies and replays a suffix of its input, count = distinct current members.

    The input is what the process agent sends: per record, adds and (when a newer
    version moved it) removes, in order. A crash rewinds to some earlier offset and
    the recovered worker re-applies everything from there, on the recovered store.
    """
    rng = random.Random(7)
    truth: dict[str, tuple[str, str]] = {}
    ops: list[tuple[str, str, str, int]] = []
    for _ in range(3_000):
        rid = f"r{rng.randrange(400)}"
        series, week = f"s{rng.randrange(5)}", shift_week("2026W10", rng.randrange(6))
        if truth.get(rid) == (series, week):
            continue
        if rid in truth:
            ops.append((*truth[rid], rid, -1))
        ops.append((series, week, rid, 1))
        truth[rid] = (series, week)
    t = table("replays")
    members, position, crashes = CaseMembers(t, horizon_weeks=20), 0, 0
    while position < len(ops):
        series, week, rid, sign = ops[position]
        if sign > 0:
            members.add(series, week, rid, partition=int(series[1:]) % 4)
        else:
            members.remove(series, week, rid, partition=int(series[1:]) % 4)
        position += 1
        if rng.random() < 0.01:  # kill -9: rewind to an earlier committed offset, recover
            position, crashes = max(0, position - rng.randrange(60)), crashes + 1
            members = CaseMembers(t, horizon_weeks=20)
            members.rebuild()
    expected: dict[tuple[str, str], int] = {}
    for series_week in truth.values():
        expected[series_week] = expected.get(series_week, 0) + 1
    assert crashes > 10
    assert {(s, w): n for s, w, n in members.counts()} == expected
