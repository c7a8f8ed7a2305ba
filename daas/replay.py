"""Replay: rewind a stopped consumer group on one topic, for every partition.

``plan_replay`` works out, per partition, where the group stands and where it would
go — the beginning, an offset, or the first record at or after a time — without
changing anything; ``replay_table`` renders that plan for a dry run. ``apply_replay``
commits the new offsets, but only while the group has no active members: moving the
offsets of a running consumer would be overwritten by its next commit, or worse,
interleave with it. Sinks are idempotent (DESIGN.md §5), so a replay repairs without
duplicating. Called by ``daas replay``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from daas.errors import ConfigurationError, DaasError
from daas.kafka import create_admin
from daas.settings import Settings

__all__ = ["GroupActive", "PartitionMove", "ReplayPlan", "Target", "apply_replay", "plan_replay", "replay_table"]

_IDLE_STATES = (ConsumerGroupState.EMPTY, ConsumerGroupState.DEAD)
_ACTIVE_ERRORS = frozenset({KafkaError.UNKNOWN_MEMBER_ID, KafkaError.REBALANCE_IN_PROGRESS,
                            KafkaError.ILLEGAL_GENERATION})


class GroupActive(DaasError):
    """The consumer group has active members, so its offsets are not moved."""


@dataclass(frozen=True)
class Target:
    """Where to rewind to: ``Target.beginning()``, ``Target.at_offset(n)``, ``Target.at_time(t)``."""

    kind: Literal["beginning", "offset", "timestamp"]
    offset: int | None = None
    timestamp_ms: int | None = None

    @classmethod
    def beginning(cls) -> Target:
        return cls("beginning")

    @classmethod
    def at_offset(cls, offset: int) -> Target:
        if offset < 0:
            raise ConfigurationError(f"replay offset {offset} is negative; offsets start at 0")
        return cls("offset", offset=offset)

    @classmethod
    def at_time(cls, when: datetime) -> Target:
        if when.tzinfo is None:
            raise ConfigurationError(f"replay time {when.isoformat()} has no time zone; add one, e.g. "
                                     f"{when.isoformat()}+00:00")
        return cls("timestamp", timestamp_ms=int(when.timestamp() * 1000))

    def describe(self) -> str:
        if self.kind == "offset":
            return f"offset {self.offset}"
        if self.kind == "timestamp" and self.timestamp_ms is not None:
            return f"first record at or after {datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC).isoformat()}"
        return "the beginning"


@dataclass(frozen=True)
class PartitionMove:
    """One partition: the group's committed offset (None: none yet) and the new one."""

    partition: int
    current: int | None
    new: int
    low: int
    high: int
    note: str = ""


@dataclass(frozen=True)
class ReplayPlan:
    group_id: str
    topic: str
    target: Target
    state: str
    members: tuple[str, ...]
    moves: tuple[PartitionMove, ...]

    @property
    def records_to_reread(self) -> int:
        """Records the group will read again (or skip, when negative) after the move."""
        return sum((m.current if m.current is not None else m.low) - m.new for m in self.moves)


def _result(future: Any, timeout: float, what: str) -> Any:
    try:
        return future.result(timeout=timeout)
    except KafkaException as exc:
        raise DaasError(f"Kafka refused {what}: {exc.args[0].str() if exc.args else exc}") from exc
    except TimeoutError as exc:
        raise DaasError(f"Kafka did not answer {what} within {timeout:.0f}s") from exc


def _group(admin: AdminClient, group_id: str, timeout: float) -> tuple[str, tuple[str, ...]]:
    future = admin.describe_consumer_groups([group_id], request_timeout=timeout)[group_id]
    try:
        description = future.result(timeout=timeout)
    except KafkaException as exc:
        if exc.args and exc.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND:
            return "DEAD", ()
        raise DaasError(f"Kafka refused describing group {group_id}: {exc}") from exc
    members = tuple(f"{m.client_id}@{m.host}" for m in description.members)
    state = description.state
    if state not in _IDLE_STATES and not members:
        members = (f"(group is {state.name.lower()})",)
    return state.name, members


def _offsets(admin: AdminClient, specs: dict[TopicPartition, OffsetSpec], timeout: float) -> dict[int, int]:
    futures = admin.list_offsets(specs, request_timeout=timeout)
    return {tp.partition: _result(f, timeout, f"listing offsets of {tp.topic}[{tp.partition}]").offset
            for tp, f in futures.items()}


def plan_replay(settings: Settings, *, group_id: str, topic: str, target: Target,
                admin: AdminClient | None = None, timeout: float = 30.0) -> ReplayPlan:
    """Where each partition of ``topic`` stands for ``group_id`` and where it would go."""
    admin = admin or create_admin(settings)
    metadata = admin.list_topics(topic, timeout=timeout).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise ConfigurationError(f"topic {topic!r} does not exist on {settings.kafka_bootstrap_servers}; "
                                 "check the name (or the DAAS_TOPIC_* setting)")
    partitions = sorted(metadata.partitions)
    tps = [TopicPartition(topic, p) for p in partitions]
    low = _offsets(admin, {tp: OffsetSpec.earliest() for tp in tps}, timeout)
    high = _offsets(admin, {tp: OffsetSpec.latest() for tp in tps}, timeout)
    at_time: dict[int, int] = {}
    if target.kind == "timestamp":
        at_time = _offsets(admin, {tp: OffsetSpec.for_timestamp(target.timestamp_ms) for tp in tps}, timeout)
    request = [ConsumerGroupTopicPartitions(group_id, tps)]
    listed = _result(admin.list_consumer_group_offsets(request, request_timeout=timeout)[group_id], timeout,
                     f"listing the offsets of group {group_id}")
    current = {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in listed.topic_partitions}
    moves = []
    for p in partitions:
        note = ""
        if target.kind == "beginning":
            new = low[p]
        elif target.kind == "offset":
            wanted = target.offset if target.offset is not None else low[p]
            new = min(max(wanted, low[p]), high[p])
            if new != wanted:
                note = f"{wanted} is outside [{low[p]}, {high[p]}]"
        else:
            new = at_time[p] if at_time.get(p, -1) >= 0 else high[p]
            if at_time.get(p, -1) < 0:
                note = "no record at or after the time: the end"
        moves.append(PartitionMove(p, current.get(p), new, low[p], high[p], note))
    state, members = _group(admin, group_id, timeout)
    return ReplayPlan(group_id, topic, target, state, members, tuple(moves))


def apply_replay(settings: Settings, plan: ReplayPlan, *, admin: AdminClient | None = None,
                 timeout: float = 30.0) -> ReplayPlan:
    """Commit ``plan``'s offsets; GroupActive (changing nothing) while the group has members."""
    admin = admin or create_admin(settings)
    state, members = _group(admin, plan.group_id, timeout)
    _refuse_if_active(plan.group_id, members)
    request = [ConsumerGroupTopicPartitions(plan.group_id, [TopicPartition(plan.topic, m.partition, m.new)
                                                            for m in plan.moves])]
    future = admin.alter_consumer_group_offsets(request, request_timeout=timeout)[plan.group_id]
    try:
        result = future.result(timeout=timeout)
    except KafkaException as exc:
        err = exc.args[0] if exc.args else None
        if isinstance(err, KafkaError) and err.code() in _ACTIVE_ERRORS:
            _refuse_if_active(plan.group_id, _group(admin, plan.group_id, timeout)[1] or ("(joined meanwhile)",))
        raise DaasError(f"Kafka refused moving the offsets of group {plan.group_id}: {exc}") from exc
    failed = [tp for tp in result.topic_partitions if tp.error is not None]
    if failed:
        raise DaasError(f"Kafka refused moving {plan.topic}[{failed[0].partition}] for group {plan.group_id}: "
                        f"{failed[0].error}")
    return ReplayPlan(plan.group_id, plan.topic, plan.target, state, members, plan.moves)


def _refuse_if_active(group_id: str, members: Sequence[str]) -> None:
    if members:
        raise GroupActive(f"consumer group {group_id!r} has {len(members)} active member(s): {', '.join(members)}; "
                          "stop them (e.g. SIGTERM the sink) and run the replay again — offsets were not changed")


def replay_table(plan: ReplayPlan) -> Any:
    """The plan as a rich table: partition, current → new offset, records to read again."""
    from rich.table import Table

    moved = plan.records_to_reread
    table = Table(title=f"replay {plan.group_id} on {plan.topic} to {plan.target.describe()}",
                  caption=f"group {plan.state.lower()}, {len(plan.members)} active member(s); "
                          + (f"{moved} records to read again" if moved >= 0 else f"{-moved} records skipped"))
    for column, justify in (("partition", "right"), ("current", "right"), ("new", "right"),
                            ("earliest", "right"), ("end", "right"), ("note", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for m in plan.moves:
        table.add_row(str(m.partition), "-" if m.current is None else str(m.current), str(m.new), str(m.low),
                      str(m.high), m.note)
    return table
