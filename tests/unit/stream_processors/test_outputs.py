"""The commit barrier: Faust's transaction commits never fall inside a batch."""

from __future__ import annotations

import asyncio

import faust

from stream_processors.outputs import CommitBarrier
from stream_processors.state import BatchedTable, TransactionJournal


def test_batches_overlap_each_other_but_never_a_commit() -> None:
    async def scenario() -> list[str]:
        barrier, log = CommitBarrier(), []

        async def batch(name: str, hold: float) -> None:
            async with barrier.batch():
                log.append(f"{name} start")
                await asyncio.sleep(hold)
                log.append(f"{name} end")

        async def commit() -> None:
            async with barrier.commit():
                log.append("commit start")
                await asyncio.sleep(0.05)
                log.append("commit end")

        first = asyncio.create_task(batch("a", 0.1))
        second = asyncio.create_task(batch("b", 0.05))
        await asyncio.sleep(0.01)
        committing = asyncio.create_task(commit())  # waits for a and b
        await asyncio.sleep(0.01)
        late = asyncio.create_task(batch("c", 0.01))  # waits for the commit
        await asyncio.gather(first, second, committing, late)
        return log

    assert asyncio.run(scenario()) == ["a start", "b start", "b end", "a end", "commit start", "commit end",
                                       "c start", "c end"]


class Consumer:
    """The method of Faust's consumer that the barrier wraps: it reads the offsets, then commits through the producer."""

    def __init__(self, producer: "Producer") -> None:
        self.producer = producer
        self.acked = 0

    async def force_commit(self) -> None:
        await self.producer.commit_transactions({"app-0-0": {"tp": self.acked}}, "g")


class Producer:
    """The two methods of Faust's aiokafka producer that the barrier wraps."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    async def commit_transactions(self, offsets: dict, group: str, start_new_transaction: bool = True) -> None:
        self.calls.append(("commit", offsets, group))

    async def stop_transaction(self, transactional_id: str) -> None:
        self.calls.append(("stop", transactional_id))


def journaled_table() -> tuple[BatchedTable, TransactionJournal]:
    app = faust.App("outputs-test", store="memory://")
    table = BatchedTable(app.Table("t", default=lambda: None, partitions=2), journal=True)
    journal = TransactionJournal(group_of=lambda topic: 0)
    journal.track(table, "input", lambda: None)
    return table, journal


def test_a_guarded_producer_commits_between_batches_and_tells_the_journal() -> None:
    table, journal = journaled_table()

    async def scenario() -> tuple[list, list]:
        producer, barrier = Producer(), CommitBarrier()
        consumer = Consumer(producer)
        barrier.guard(consumer, producer, journal)
        async with barrier.batch():
            table.set("a", 1, partition=0)
            pending = asyncio.create_task(consumer.force_commit())
            await asyncio.sleep(0.02)
            during = list(producer.calls)
            consumer.acked = 5  # the batch's events are acknowledged before it ends
        await pending
        table.set("b", 2, partition=0)
        await producer.stop_transaction("app-0-0")  # a rebalance abandons the open transaction
        return during, producer.calls

    during, after = asyncio.run(scenario())
    # The commit waited for the batch, then read the offsets: the batch's outputs and offsets commit together.
    assert during == [] and after == [("commit", {"app-0-0": {"tp": 5}}, "g"), ("stop", "app-0-0")]
    assert table.get("a") == 1  # committed: kept
    assert table.get("b") is None and table.partition_of("b") is None  # abandoned: undone


def test_the_journal_restores_what_an_abandoned_transaction_overwrote() -> None:
    table, journal = journaled_table()
    table.set("k", "committed", partition=1)
    table.set("gone", "committed", partition=1)
    journal.committed(["app-0-1"])
    table.set("k", "uncommitted", partition=1)
    table.delete("gone")
    table.set("other", "x", partition=0)
    assert journal.abandoned("app-0-1") == 2
    assert (table.get("k"), table.get("gone"), table.partition_of("gone")) == ("committed", "committed", 1)
    assert table.get("other") == "x"  # another partition's transaction is untouched
    assert journal.abandoned("app-0-1") == 0
