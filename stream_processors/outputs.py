"""How a batch's outputs reach Kafka, and how a batch ends, in either processing guarantee.

At least once, outputs go through one librdkafka producer (``KafkaSender``): batched
in C, awaited once per batch. Offsets are committed only for acknowledged events, and
a batch's events are acknowledged only after its outputs are.

Exactly once, outputs join the Kafka transaction of their input's partition
(``TransactionalSender``), and Faust commits that transaction together with the
partition's offsets. Faust commits on a timer and on rebalance, whenever an event
is acknowledged — including in the middle of a batch, which would commit half a
batch's outputs without its offsets, and a crash then repeats that half (measured:
10,302 committed outputs for 10,000 inputs with two workers). The ``CommitBarrier``
keeps commits out of batches: a batch (from its first send to the acknowledgement
of its last event) and a commit (from reading the offsets to the end of the
transaction) never overlap.

Either way, ``run_batch`` ends the process if a batch fails or is interrupted, before
anything of it is acknowledged: Faust's ``take_events`` would otherwise acknowledge
the events of a batch that raised or was cancelled, and commit offsets whose outputs
never reached Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import faust

from daas.kafka import DeliveryReport, flush_or_raise
from stream_processors.state import TransactionJournal

__all__ = ["CommitBarrier", "KafkaSender", "TransactionalSender", "run_batch"]

log = logging.getLogger(__name__)


class KafkaSender:
    """At-least-once outputs through librdkafka: batched in C, acknowledged per batch."""

    def __init__(self, producer: Any) -> None:
        self._producer = producer
        self._report = DeliveryReport()

    async def send(self, event: Any, topic: str, key: bytes | None, value: bytes | None,
                   headers: list[tuple[str, bytes]] | None = None, *, partition: int | None = None) -> None:
        extra = {} if partition is None else {"partition": partition}
        while True:
            try:
                self._producer.produce(topic, key=key, value=value, headers=headers, on_delivery=self._report, **extra)
                return
            except BufferError:
                # The local queue is full (the broker is slow or away): serve delivery
                # reports and yield, so the event loop keeps Faust's heartbeats going.
                # librdkafka fails queued messages after message.timeout.ms, so this ends.
                self._producer.poll(0)
                await asyncio.sleep(0.01)

    async def acknowledged(self) -> None:
        """Return once Kafka acknowledged everything sent; raise DeliveryError otherwise."""
        await asyncio.get_running_loop().run_in_executor(None, flush_or_raise, self._producer, self._report)


class TransactionalSender:
    """Exactly-once outputs: each send joins the transaction of its input's partition.

    Faust's own topic sends pick the transaction from the *destination* partition
    (and none at all for topics this app does not consume), so we name the input
    partition's transactional producer ourselves, as Faust's consumer does when it
    commits that partition's offsets.
    """

    def __init__(self, app: faust.App) -> None:
        self._app = app
        self._pending: list[Any] = []

    async def send(self, event: Any, topic: str, key: bytes | None, value: bytes | None,
                   headers: list[tuple[str, bytes]] | None = None, *, partition: int | None = None) -> None:
        transactions = self._app.consumer.transactions
        group = self._app.assignor.group_for_topic(event.message.topic)
        transactional_id = f"{self._app.conf.id}-{group}-{event.message.partition}"
        self._pending.append(await transactions.producer.send(
            topic, key, value, partition, None, headers, transactional_id=transactional_id))

    async def acknowledged(self) -> None:
        await asyncio.gather(*self._pending)


class CommitBarrier:
    """Batches may overlap each other; a commit overlaps none of them."""

    def __init__(self) -> None:
        self._batches = 0
        self._committing = False
        self._changed = asyncio.Condition()
        self._guarded = False

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: not self._committing)
            self._batches += 1
        try:
            yield
        finally:
            async with self._changed:
                self._batches -= 1
                self._changed.notify_all()

    @asynccontextmanager
    async def commit(self) -> AsyncIterator[None]:
        async with self._changed:
            await self._changed.wait_for(lambda: not self._committing)
            self._committing = True  # from here no batch starts
            await self._changed.wait_for(lambda: self._batches == 0)
        try:
            yield
        finally:
            async with self._changed:
                self._committing = False
                self._changed.notify_all()

    def guard(self, consumer: Any, producer: Any, journal: TransactionJournal) -> None:
        """Keep Faust's commits out of batches, and tell ``journal`` what became of each transaction.

        Faust's consumer commits in ``force_commit`` (from its commit timer and its
        rebalance handler): it reads the acknowledged offsets, then has the producer
        commit each partition's transaction with them. The barrier must be taken
        before the offsets are read, or a batch that ends while the commit waits would
        have its outputs committed with the offsets from before it. Faust abandons a
        partition's open transaction in ``producer.stop_transaction``. There are no
        hooks around these, so the bound methods of these two instances are wrapped
        (once; later calls do nothing).
        """
        if self._guarded:
            return
        self._guarded = True
        force_commit = consumer.force_commit
        commit_transactions, stop_transaction = producer.commit_transactions, producer.stop_transaction

        async def guarded_commit(*args: Any, **kwargs: Any) -> Any:
            async with self.commit():
                return await force_commit(*args, **kwargs)

        async def journaled_commit(tid_to_offset_map: Any, *args: Any, **kwargs: Any) -> Any:
            result = await commit_transactions(tid_to_offset_map, *args, **kwargs)
            journal.committed(tid_to_offset_map)
            return result

        async def journaled_stop(transactional_id: str) -> None:
            async with self.commit():  # a batch still writing under it ends first
                undone = journal.abandoned(transactional_id)
                if undone:
                    log.warning("transaction %s abandoned by a rebalance: %d uncommitted table writes undone",
                                transactional_id, undone)
                await stop_transaction(transactional_id)

        consumer.force_commit = guarded_commit
        producer.commit_transactions = journaled_commit
        producer.stop_transaction = journaled_stop


async def run_batch(stream: faust.StreamT, events: list[Any], handle: Callable[[list[Any]], Awaitable[None]],
                    barrier: CommitBarrier) -> None:
    """Handle one batch and acknowledge its events, with no commit in between; exit if it fails.

    Everything from the first await on is covered: a worker told to stop while it
    waits at the barrier would otherwise leave the batch to ``take_events``, which
    acknowledges events it was handed even when they were never handled (measured:
    a stopped worker's 446 unhandled cases were committed past and never counted).
    """
    try:
        async with barrier.batch():
            await handle(events)
            for event in events:
                await stream.ack(event)  # take_events acknowledges them again; a second ack is a no-op
    except BaseException:
        log.critical("batch failed or interrupted; exiting without acknowledging it", exc_info=True)
        os._exit(70)
