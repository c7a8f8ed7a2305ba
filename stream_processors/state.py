"""The processor's table state: written in batches, read through indexes, kept bounded.

Faust's own ``table[key] = value`` sends one changelog message per assignment through
a one-message-at-a-time buffer, which costs more than the processing itself. Here a
batch's table writes go to the memory store at once (with Faust's key → partition
bookkeeping, so a rebalance still drops the keys of revoked partitions) and their
changelog records are sent with the batch's other outputs, through the same sender,
so they are acknowledged — or, in exactly-once mode, committed — together.

Two tables use it:

``DedupState`` (record_id → version, when forwarded, surveillance series and week)
    The de-duplication table of the ``process`` agent. Entries expire once the
    de-duplication window has passed since the record was last forwarded: a sweep
    deletes them with tombstones, so the store and the compacted changelog stay
    bounded by the window.

``CaseMembers`` (``series|week|record_id`` → 1)
    The cases counted by the ``surveil`` agent. A week's count is the number of its
    members, so counting is idempotent: an add that is already there and a remove
    that is not change no count (their changelog records are written all the same),
    and a replayed or re-sent record is never counted twice. Counts per series and week are an index over the store, rebuilt after
    every recovery. Weeks older than the horizon (the newest week the partition has
    seen, minus ``horizon_weeks``) are swept with tombstones; records for them are
    late and not counted live (the warehouse counts them).
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple, Protocol

from stream_processors.surveillance import EARS_BASELINE_LAG, EARS_BASELINE_WEEKS, shift_week

__all__ = ["BatchedTable", "CaseMembers", "DedupState", "Seen", "Sender", "TransactionJournal"]

# Weeks a week's EARS baseline reaches back (guard band + baseline).
BASELINE_REACH = EARS_BASELINE_LAG + EARS_BASELINE_WEEKS


class Sender(Protocol):
    async def send(self, event: Any, topic: str, key: bytes | None, value: bytes | None,
                   headers: list[tuple[str, bytes]] | None = None, *, partition: int | None = None) -> None: ...


_ABSENT = object()


class BatchedTable:
    """A Faust memory-store table whose writes are applied now and sent to its changelog in batches.

    With ``journal=True`` (exactly-once mode) it also remembers, per partition, what
    each key held before the partition's open transaction, so that the writes of a
    transaction Faust abandons can be undone (``TransactionJournal``).
    """

    def __init__(self, table: Any, *, journal: bool = False) -> None:
        self._store = table.data
        self._changelog = table.changelog_topic.get_topic_name()
        self._pending: list[tuple[int, str, Any]] = []
        self._before: dict[int, dict[str, Any]] | None = {} if journal else None

    def get(self, key: str) -> Any:
        return self._store.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self._store

    def __len__(self) -> int:
        return len(self._store)

    def partition_of(self, key: str) -> int | None:
        return self._store._key_partition.get(key)

    def items(self) -> Iterator[tuple[str, Any, int | None]]:
        """Every (key, value, partition) in the store."""
        partitions = self._store._key_partition
        for key, value in list(self._store.items()):
            yield key, value, partitions.get(key)

    def set(self, key: str, value: Any, partition: int) -> None:
        self._remember(key, partition)
        self._store[key] = value
        self._store._key_partition[key] = partition
        self._pending.append((partition, key, value))

    def delete(self, key: str, partition: int | None = None) -> None:
        """Delete ``key``; its tombstone goes to the key's partition, or to ``partition`` if it is not here."""
        partition = self._store._key_partition.get(key, partition)
        if partition is None:
            return
        self._remember(key, partition)
        self._store._key_partition.pop(key, None)
        self._store.pop(key, None)
        self._pending.append((partition, key, None))

    def committed(self, partition: int) -> None:
        """The partition's transaction committed: its writes are durable."""
        if self._before is not None:
            self._before.pop(partition, None)

    def roll_back(self, partition: int) -> int:
        """Undo the writes of the partition's uncommitted transaction; return how many keys changed."""
        before = self._before.pop(partition, {}) if self._before is not None else {}
        for key, value in before.items():
            if value is _ABSENT:
                self._store.pop(key, None)
                self._store._key_partition.pop(key, None)
            else:
                self._store[key] = value
                self._store._key_partition[key] = partition
        return len(before)

    def _remember(self, key: str, partition: int) -> None:
        if self._before is not None:
            self._before.setdefault(partition, {}).setdefault(key, self._store.get(key, _ABSENT))

    async def send_changes(self, sender: Sender, event_of: Mapping[int, Any]) -> None:
        """Queue the changelog records of every write since the last call on ``sender``.

        ``event_of`` maps a changelog partition to an input event of the same partition
        (the tables are co-partitioned with their agent's input), which picks the
        transaction in exactly-once mode.
        """
        pending, self._pending = self._pending, []
        for partition, key, value in pending:
            await sender.send(event_of[partition], self._changelog, json.dumps(key).encode(),
                              None if value is None else json.dumps(value).encode(), partition=partition)


class TransactionJournal:
    """Exactly-once mode: keeps each table's memory equal to Kafka's committed state plus open transactions.

    On a rebalance Faust stops the transactional producers of the revoked
    partitions, and the next producer with the same transactional id aborts
    whatever they left open; the writes of that transaction stay in the memory
    store all the same, ahead of the changelog, so a re-consumed input would look
    done (in a two-worker run with one worker killed, 1,125 re-consumed cases found
    their membership already in memory). The journal undoes a partition's writes
    when its transaction is abandoned and forgets them when it commits.
    Transactional ids are ``{app id}-{topic group}-{partition}``, as Faust names them.
    """

    def __init__(self, group_of: Callable[[str], int]) -> None:
        self._group_of = group_of
        self._tables: list[tuple[BatchedTable, str, Callable[[], None]]] = []

    def track(self, table: BatchedTable, input_topic: str, reindex: Callable[[], None]) -> None:
        """Journal ``table``, written by the agent that reads ``input_topic``; ``reindex`` after an undo."""
        self._tables.append((table, input_topic, reindex))

    def committed(self, transactional_ids: Iterable[str]) -> None:
        for transactional_id in transactional_ids:
            for table, _topic, _reindex in self._tables_of(transactional_id):
                table.committed(_partition(transactional_id))

    def abandoned(self, transactional_id: str) -> int:
        """Undo the writes of an abandoned transaction; return how many keys went back."""
        undone, reindex = 0, []
        for table, _topic, again in self._tables_of(transactional_id):
            changed = table.roll_back(_partition(transactional_id))
            if changed:
                undone += changed
                reindex.append(again)
        for again in reindex:
            again()
        return undone

    def _tables_of(self, transactional_id: str) -> list[tuple[BatchedTable, str, Callable[[], None]]]:
        group = int(transactional_id.rsplit("-", 2)[1])
        return [t for t in self._tables if self._group_of(t[1]) == group]


def _partition(transactional_id: str) -> int:
    return int(transactional_id.rsplit("-", 1)[1])


class Seen(NamedTuple):
    """What the de-dup table remembers of a forwarded record."""

    version: int
    forwarded_ms: int
    series: str
    epi_week: str

    @classmethod
    def parse(cls, value: list[Any]) -> Seen:
        return cls(*value)


class DedupState:
    """record_id → ``Seen``, expiring ``window_ms`` after the record was last forwarded."""

    def __init__(self, table: Any, window_ms: int, *, journal: bool = False) -> None:
        self.table = BatchedTable(table, journal=journal)
        self.window_ms = window_ms
        # Per partition, (forwarded_ms, record_id) in forwarding order; an entry whose
        # time no longer matches the store was forwarded again and is skipped.
        self._expiry: dict[int, deque[tuple[int, str]]] = defaultdict(deque)

    def get(self, record_id: str) -> Seen | None:
        value = self.table.get(record_id)
        return None if value is None else Seen.parse(value)

    def mark(self, record_id: str, seen: Seen, partition: int) -> None:
        self.table.set(record_id, list(seen), partition)
        self._expiry[partition].append((seen.forwarded_ms, record_id))

    def expire(self, partitions: set[int], now_ms: int) -> int:
        """Delete the entries of ``partitions`` whose window has passed; return how many."""
        expired = 0
        for partition in partitions:
            queue = self._expiry[partition]
            while queue and now_ms - queue[0][0] >= self.window_ms:
                forwarded_ms, record_id = queue.popleft()
                current = self.get(record_id)
                if current is not None and current.forwarded_ms == forwarded_ms:
                    self.table.delete(record_id)
                    expired += 1
        return expired

    def rebuild(self) -> None:
        """Re-index the store after a recovery (its keys may have changed completely)."""
        entries: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for record_id, value, partition in self.table.items():
            if partition is not None:
                entries[partition].append((Seen.parse(value).forwarded_ms, record_id))
        self._expiry = defaultdict(deque, {p: deque(sorted(e)) for p, e in entries.items()})

    def __len__(self) -> int:
        return len(self.table)


def member_key(series: str, epi_week: str, record_id: str) -> str:
    return f"{series}|{epi_week}|{record_id}"


class CaseMembers:
    """Counted cases per series and ISO week, idempotent under replay, bounded by a horizon."""

    def __init__(self, table: Any, horizon_weeks: int, *, journal: bool = False) -> None:
        if horizon_weeks <= BASELINE_REACH:
            raise ValueError(f"the surveillance horizon must exceed the EARS baseline reach ({BASELINE_REACH} weeks)")
        self.table = BatchedTable(table, journal=journal)
        self.horizon_weeks = horizon_weeks
        self._counts: dict[tuple[str, str], int] = defaultdict(int)
        self._keys: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))

    def count(self, series: str, epi_week: str) -> int:
        return self._counts.get((series, epi_week), 0)

    def counts(self) -> Iterator[tuple[str, str, int]]:
        for (series, week), n in self._counts.items():
            yield series, week, n

    def oldest_kept(self, partition: int) -> str | None:
        """The oldest week ``partition`` still counts; None before its first case."""
        weeks = self._keys.get(partition)
        return shift_week(max(weeks), -(self.horizon_weeks - 1)) if weeks else None

    def is_late(self, partition: int, epi_week: str) -> bool:
        oldest = self.oldest_kept(partition)
        return oldest is not None and epi_week < oldest

    def is_evaluable(self, partition: int, epi_week: str) -> bool:
        """Whether the week's whole baseline is still counted, so detection may judge it."""
        oldest = self.oldest_kept(partition)
        return oldest is None or shift_week(epi_week, -BASELINE_REACH) >= oldest

    def add(self, series: str, epi_week: str, record_id: str, partition: int) -> bool:
        """Count the record in the series-week; False if it already was.

        The changelog is written either way: in exactly-once mode this worker's
        memory can be ahead of Kafka (a rebalance aborted the transaction that
        carried the change), and re-applying an input must make it durable again.
        """
        key = member_key(series, epi_week, record_id)
        new = key not in self.table
        self.table.set(key, 1, partition)
        if new:
            self._index(key, series, epi_week, partition)
        return new

    def remove(self, series: str, epi_week: str, record_id: str, partition: int) -> bool:
        """Stop counting the record in the series-week; False if it was not counted (the tombstone is written anyway)."""
        key = member_key(series, epi_week, record_id)
        counted = key in self.table
        self.table.delete(key, partition)
        if counted:
            self._unindex(key, series, epi_week, partition)
        return counted

    def sweep(self, partition: int) -> list[tuple[str, str]]:
        """Forget the weeks of ``partition`` older than the horizon; return the series-weeks dropped."""
        weeks = self._keys.get(partition)
        oldest = self.oldest_kept(partition)
        dropped: set[tuple[str, str]] = set()
        for week in [w for w in weeks or () if w < oldest]:
            for key in weeks.pop(week):
                series = key.rsplit("|", 2)[0]
                self.table.delete(key)
                self._counts.pop((series, week), None)
                dropped.add((series, week))
        return sorted(dropped)

    def rebuild(self) -> None:
        self._counts.clear()
        self._keys.clear()
        for key, _value, partition in self.table.items():
            if partition is not None:
                series, week, _record_id = key.rsplit("|", 2)
                self._index(key, series, week, partition)

    def _index(self, key: str, series: str, epi_week: str, partition: int) -> None:
        self._counts[(series, epi_week)] += 1
        self._keys[partition][epi_week].add(key)

    def _unindex(self, key: str, series: str, epi_week: str, partition: int) -> None:
        remaining = self._counts[(series, epi_week)] - 1
        if remaining:
            self._counts[(series, epi_week)] = remaining
        else:
            del self._counts[(series, epi_week)]
        weeks = self._keys[partition]
        weeks[epi_week].discard(key)
        if not weeks[epi_week]:
            del weeks[epi_week]
