"""A batch's plan: what is forwarded, counted, remembered and committed — without Kafka."""

from __future__ import annotations

from daas.dead_letter import DeadLetter, Reason
from stream_processors.batch import plan_batch
from stream_processors.cases import CaseChange, CaseMessage
from stream_processors.dedup import PartitionState, Seen, decode_entry
from stream_processors.pipeline import InputMessage, Output, Result

RAW = "raw"
WINDOW = 7 * 24 * 3600 * 1000


def _msg(offset: int, partition: int = 0, at: int = 1000) -> InputMessage:
    return InputMessage(RAW, partition, offset, at, f"k{offset}".encode(), b"v")


def _clean(rid: str, *, version: int = 1, district: str = "Ikeja", group: str = "malaria",
           week: str = "2026W10") -> Result:
    record = {"record_id": rid, "source_version": version, "country_code": "NG", "district": district,
              "diagnosis_group": group, "epi_week": week}
    return Result([Output("ops", rid.encode(), f"{rid}@{version}".encode(), [])], None, record)


def _dead(offset: int) -> Result:
    return Result([], DeadLetter(b"k", b"bad", [Reason("decode_error", "not Avro")], "processor", RAW, 0, offset))


def _plan(messages: list[InputMessage], results: list[Result], states: dict | None = None):  # noqa: ANN202
    states = states or {(RAW, p): PartitionState(WINDOW) for p in {m.partition for m in messages}}
    return plan_batch(messages, results, states, dead_letter_topic="dlq", changelog_topic=lambda t: f"cl-{t}"), states


def test_clean_records_dead_letters_and_duplicates_in_one_batch() -> None:
    messages = [_msg(10), _msg(11), _msg(12), _msg(13)]
    results = [_clean("a"), _dead(11), _clean("a"), _clean("b", group="typhoid")]
    plan, _ = _plan(messages, results)
    assert [o.topic for o in plan.outputs] == ["ops", "dlq", "ops"]
    assert plan.stats == {"clean": 2, "dead_lettered": 1, "duplicates": 1, "case_changes": 2}
    assert plan.offsets == {(RAW, 0): 14} and plan.first_offsets == {(RAW, 0): 10}
    assert plan.cases == [CaseMessage("NG|Ikeja", "raw:0", [CaseChange(10, "malaria", "2026W10", 1),
                                                            CaseChange(13, "typhoid", "2026W10", 1)])]
    assert [(t, p, rid) for t, p, rid, _ in plan.changelog] == [("cl-raw", 0, "a"), ("cl-raw", 0, "b")]
    assert decode_entry(plan.changelog[0][3]) == Seen(1, 1000, "NG|Ikeja", "malaria", "2026W10")


def test_a_correction_moves_the_case_between_districts_and_partitions_keep_their_own_state() -> None:
    state = PartitionState(WINDOW)
    state.apply([("a", Seen(1, 500, "NG|Ikeja", "malaria", "2026W10"))])
    states = {(RAW, 0): state, (RAW, 1): PartitionState(WINDOW)}
    plan, _ = _plan([_msg(20), _msg(5, partition=1)],
                    [_clean("a", version=2, district="Kano Municipal"), _clean("z")], states)
    assert {(m.district, m.source): [(c.offset, c.sign) for c in m.changes] for m in plan.cases} == {
        ("NG|Ikeja", "raw:0"): [(20, -1)],
        ("NG|Kano Municipal", "raw:0"): [(20, 1)],
        ("NG|Ikeja", "raw:1"): [(5, 1)],
    }
    assert plan.offsets == {(RAW, 0): 21, (RAW, 1): 6}


def test_the_plan_changes_no_state_until_it_is_applied() -> None:
    plan, states = _plan([_msg(1)], [_clean("a")])
    assert states[(RAW, 0)].get("a") is None
    states[(RAW, 0)].apply(plan.state_changes[(RAW, 0)])
    assert states[(RAW, 0)].get("a") == Seen(1, 1000, "NG|Ikeja", "malaria", "2026W10")


def test_expired_entries_are_tombstoned_in_the_batch_that_passes_their_window() -> None:
    state = PartitionState(WINDOW)
    state.apply([("old", Seen(1, 0, "NG|Ikeja", "malaria", "2026W01")),
                 ("renewed", Seen(1, 0, "NG|Ikeja", "malaria", "2026W01"))])
    plan, _ = _plan([_msg(1, at=WINDOW), _msg(2, at=WINDOW)],
                    [_clean("renewed", week="2026W01"), _clean("new")], {(RAW, 0): state})
    # "renewed" arrived as it expired: recognised (not counted again), then remembered anew.
    assert [(rid, value is None) for _, _, rid, value in plan.changelog] == [
        ("renewed", False), ("new", False), ("old", True)]
    assert plan.stats["expired"] == 1
    assert [c.offset for m in plan.cases for c in m.changes] == [2]


def test_a_dead_letter_too_large_for_its_topic_goes_out_as_a_summary_that_fits() -> None:
    import hashlib

    big = b"\xc3\x01" + b"\x07" * 1_048_000
    result = Result([], DeadLetter(b"key", big, [Reason("decode_error", "corrupt")], "processor", RAW, 2, 77, 1000))
    plan, _ = _plan([_msg(77, partition=2)], [result], {(RAW, 2): PartitionState(WINDOW)})
    (out,) = plan.outputs
    headers = dict(out.headers)
    assert out.topic == "dlq" and len(out.value) == 1024 and out.value == big[:1024]
    assert headers["dlq.reason"] == b"too_large" and b"decode_error" in headers["dlq.reasons"]
    assert headers["dlq.original.size"] == str(len(big)).encode()
    assert headers["dlq.original.sha256"] == hashlib.sha256(big).hexdigest().encode()
    assert (headers["dlq.source.partition"], headers["dlq.source.offset"]) == (b"2", b"77")
    small = Result([], DeadLetter(b"key", b"tiny", [Reason("decode_error", "corrupt")], "processor", RAW, 2, 78))
    plan, _ = _plan([_msg(78, partition=2)], [small])
    assert plan.outputs[0].value == b"tiny" and "dlq.truncated" not in dict(plan.outputs[0].headers)
