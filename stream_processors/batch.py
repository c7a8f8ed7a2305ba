"""One batch's decisions, before anything is sent: what to forward, count, remember and commit.

``plan_batch`` turns the processed records of a batch (``Processor.process``) and the
de-duplication state of their input partitions into a :class:`BatchPlan`: the clean
outputs and dead letters, the case changes per district for surveillance, the
changelog writes that make the new state durable, and the offsets to commit. It
sends nothing and changes no state, so the worker can deliver the plan under either
guarantee and apply it only once it is durable — and the decisions are unit-tested
without Kafka.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from stream_processors.cases import CaseChange, CaseMessage, district_key
from stream_processors.dedup import PartitionState, Seen, decide, encode_entry
from stream_processors.pipeline import InputMessage, Output, Result

__all__ = ["BatchPlan", "TopicPartition", "plan_batch"]

TopicPartition = tuple[str, int]


@dataclass
class BatchPlan:
    """Everything one batch sends and commits, and the state it leaves once durable."""

    outputs: list[Output] = field(default_factory=list)  # clean routes and dead letters, in input order
    cases: list[CaseMessage] = field(default_factory=list)
    # (changelog topic, partition, record id, encoded entry or None for a tombstone)
    changelog: list[tuple[str, int, str, bytes | None]] = field(default_factory=list)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)  # the next offset to read
    first_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    state_changes: dict[TopicPartition, list[tuple[str, Seen | None]]] = field(default_factory=dict)
    stats: Counter[str] = field(default_factory=Counter)
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)  # the first reason of each


def plan_batch(messages: Sequence[InputMessage], results: Sequence[Result],
               states: Mapping[TopicPartition, PartitionState], *, dead_letter_topic: str,
               changelog_topic: Callable[[str], str], max_message_bytes: int = 1_000_000) -> BatchPlan:
    """The plan for ``messages`` (in offset order per partition) and their ``results``.

    Dead letters too large for their topic go out in the form that fits
    (``DeadLetter.fitting``): no input can make the batch fail to send.
    """
    plan = BatchPlan()
    pending: dict[TopicPartition, dict[str, Seen]] = {}  # this batch's forwards, per partition
    cases: dict[tuple[str, TopicPartition], CaseMessage] = {}
    newest: dict[TopicPartition, int] = {}
    for msg, result in zip(messages, results, strict=True):
        tp = (msg.topic, msg.partition)
        plan.offsets[tp] = msg.offset + 1
        plan.first_offsets.setdefault(tp, msg.offset)
        if msg.timestamp_ms > newest.get(tp, 0):
            newest[tp] = msg.timestamp_ms
        if result.dead is not None:
            dead = result.dead.fitting(max_message_bytes)
            plan.outputs.append(Output(dead_letter_topic, dead.key, dead.value, dead.headers()))
            plan.stats["dead_lettered"] += 1
            plan.dead_letter_reasons[dead.reasons[0].code if dead.reasons else "unknown"] += 1
            continue
        record = result.record
        assert record is not None
        rid = str(record["record_id"])
        forwarded = pending.setdefault(tp, {})
        previous = forwarded.get(rid) or states[tp].get(rid)
        current = Seen(record["source_version"], msg.timestamp_ms,
                       district_key(record["country_code"], record["district"]),
                       record["diagnosis_group"], record["epi_week"])
        forward, changes = decide(previous, current, states[tp].window_ms)
        if not forward:
            plan.stats["duplicates"] += 1
            continue
        forwarded[rid] = current
        plan.outputs.extend(result.outputs)
        plan.stats["clean"] += 1
        for where, sign in changes:
            message = cases.get((where.district, tp))
            if message is None:
                message = cases[(where.district, tp)] = CaseMessage(where.district, f"{tp[0]}:{tp[1]}")
            message.changes.append(CaseChange(msg.offset, where.diagnosis_group, where.epi_week, sign))
            plan.stats["case_changes"] += 1
    plan.cases = list(cases.values())
    for tp in plan.offsets:
        state = states[tp]
        forwarded = pending.get(tp, {})
        # Decided first, expired second: a re-send that arrives as its entry expires is
        # still recognised, and is then remembered anew.
        expired = [rid for rid in state.expired(max(newest[tp], state.stream_time)) if rid not in forwarded]
        changes: list[tuple[str, Seen | None]] = [*forwarded.items(), *((rid, None) for rid in expired)]
        plan.state_changes[tp] = changes
        if expired:
            plan.stats["expired"] += len(expired)
        topic = changelog_topic(tp[0])
        plan.changelog.extend((topic, tp[1], rid, None if seen is None else encode_entry(seen))
                              for rid, seen in changes)
    return plan
