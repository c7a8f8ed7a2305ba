"""A district's surveillance state: idempotent counting, the horizon, and when detection may judge."""

from __future__ import annotations

from stream_processors.cases import CaseChange, CaseMessage
from stream_processors.surveillance.detection import shift_week
from stream_processors.surveillance.state import DistrictState

DISTRICT = "NG|Ikeja"
HORIZON = 16


def _message(src: str, *changes: tuple[int, str, str, int]) -> CaseMessage:
    return CaseMessage(DISTRICT, src, [CaseChange(*c) for c in changes])


def test_a_message_delivered_twice_counts_once() -> None:
    state = DistrictState(DISTRICT)
    message = _message("raw:0", (1, "malaria", "2026W10", 1), (2, "malaria", "2026W10", 1))
    assert state.apply(message, HORIZON).touched == [("malaria", "2026W10")]
    again = state.apply(message, HORIZON)
    assert again.touched == [] and again.repeated == 2
    assert state.counts == {("malaria", "2026W10"): 2}


def test_a_longer_retry_applies_only_what_is_past_the_mark() -> None:
    state = DistrictState(DISTRICT)
    state.apply(_message("raw:0", (1, "malaria", "2026W10", 1)), HORIZON)
    retry = state.apply(_message("raw:0", (1, "malaria", "2026W10", 1), (7, "malaria", "2026W10", 1)), HORIZON)
    assert retry.repeated == 1 and state.counts == {("malaria", "2026W10"): 2}
    # Another input partition has its own mark.
    state.apply(_message("raw:1", (1, "malaria", "2026W10", 1)), HORIZON)
    assert state.counts == {("malaria", "2026W10"): 3} and state.marks == {"raw:0": 7, "raw:1": 1}


def test_a_correction_moves_a_case_and_empty_counts_disappear() -> None:
    state = DistrictState(DISTRICT)
    state.apply(_message("raw:0", (1, "malaria", "2026W10", 1)), HORIZON)
    moved = state.apply(_message("raw:0", (9, "malaria", "2026W10", -1), (9, "typhoid", "2026W10", 1)), HORIZON)
    assert state.counts == {("typhoid", "2026W10"): 1}
    assert moved.touched == [("malaria", "2026W10"), ("typhoid", "2026W10")]


def test_the_state_survives_its_table_encoding() -> None:
    state = DistrictState(DISTRICT)
    state.apply(_message("raw:0", (1, "malaria", "2026W10", 1)), HORIZON)
    copy = DistrictState.from_value(DISTRICT, state.to_value())
    assert copy == state


def test_weeks_beyond_the_horizon_are_swept_and_late_cases_not_counted() -> None:
    state = DistrictState(DISTRICT)
    state.apply(_message("raw:0", (1, "malaria", "2026W01", 1)), HORIZON)
    newest = shift_week("2026W01", HORIZON)
    applied = state.apply(_message("raw:0", (2, "malaria", newest, 1), (3, "malaria", "2026W01", 1)), HORIZON)
    assert applied.late == 1
    assert state.counts == {("malaria", newest): 1}


def _steady(state: DistrictState, weeks: list[str], per_week: int, start_offset: int = 0) -> int:
    offset = start_offset
    changes = []
    for week in weeks:
        for _ in range(per_week):
            offset += 1
            changes.append((offset, "malaria", week, 1))
    state.apply(_message("raw:0", *changes), HORIZON)
    return offset


def test_detection_waits_until_the_stream_has_observed_the_whole_baseline() -> None:
    # Ten weeks of 4 cases, then 40: an outbreak by any measure, but only judged once
    # the week's 7 baseline weeks (3 to 9 weeks back) were all observed.
    weeks = [shift_week("2026W01", i) for i in range(12)]
    early = DistrictState(DISTRICT)
    offset = _steady(early, weeks[:5], 4)
    applied = early.apply(_message("raw:0", *[(offset + i + 1, "malaria", weeks[5], 1) for i in range(40)]), HORIZON)
    assert early.baseline_weeks(weeks[5], HORIZON) == 3
    assert early.detect(applied.touched, horizon_weeks=HORIZON, population=100_000, diseases={"malaria"}) == []

    late = DistrictState(DISTRICT)
    offset = _steady(late, weeks[:10], 4)
    applied = late.apply(_message("raw:0", *[(offset + i + 1, "malaria", weeks[10], 1) for i in range(40)]), HORIZON)
    alerts = late.detect(applied.touched, horizon_weeks=HORIZON, population=100_000, diseases={"malaria"})
    assert [(a.epi_week, a.level, a.baseline_weeks) for a in alerts] == [(weeks[10], "aberration", 7)]
    # Raised once: the same week judged again raises nothing new.
    assert late.detect(applied.touched, horizon_weeks=HORIZON, population=100_000, diseases={"malaria"}) == []


def test_groups_outside_the_surveillance_list_are_counted_but_never_alerted() -> None:
    weeks = [shift_week("2026W01", i) for i in range(12)]
    state = DistrictState(DISTRICT)
    offset = _steady(state, weeks[:10], 4)
    applied = state.apply(_message("raw:0", *[(offset + i + 1, "malaria", weeks[10], 1) for i in range(40)]), HORIZON)
    assert state.detect(applied.touched, horizon_weeks=HORIZON, population=100_000, diseases={"cholera"}) == []


def test_a_swept_week_hands_over_its_final_count() -> None:
    """The counts topic keeps the last count of a week that left the live horizon: the
    sweep returns it, so it is published even when it changed in the same second."""
    state = DistrictState(DISTRICT)
    state.apply(_message("raw:0", (1, "malaria", "2026W01", 1), (2, "malaria", "2026W01", 1)), HORIZON)
    applied = state.apply(_message("raw:0", (3, "malaria", shift_week("2026W01", HORIZON), 1)), HORIZON)
    assert applied.swept == [(("malaria", "2026W01"), 2)]
    assert ("malaria", "2026W01") not in state.counts
