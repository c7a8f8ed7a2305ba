"""How a batch's plan becomes durable, under either guarantee (DESIGN.md §5).

At least once (the default): the clean outputs, dead letters and case changes are
produced and acknowledged first; then the changelog entries, acknowledged; then
the input offsets are committed. A crash anywhere before the commit replays the
batch. Because the changelog is written only after the outputs are acknowledged,
a record the restored state calls forwarded really was, so a replay never drops
a record — it may forward one again, which the deterministic ``record_id`` and the
idempotent sinks absorb, and surveillance counts each input offset once
(``stream_processors.cases``).

Exactly once: everything — outputs, dead letters, case changes, changelog entries
and the input offsets — is one Kafka transaction of librdkafka's transactional
producer, each input group's offsets sent with that consumer's group metadata
(KIP-447), so a worker that lost its partitions (a zombie) cannot commit: the broker
fences it by consumer group generation, whatever the number of workers. A batch whose
transaction is aborted is read again from its first offsets, and its state changes
are never applied.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from daas.backoff import Backoff
from daas.errors import DaasError
from daas.kafka import DeliveryReport, flush_or_raise, produce
from stream_processors.batch import BatchPlan

__all__ = ["AtLeastOnce", "ExactlyOnce", "TransactionAborted"]

log = logging.getLogger(__name__)

# librdkafka fails a queued message after message.timeout.ms (create_producer: 120 s);
# waiting longer than that for acknowledgements cannot help.
_FLUSH_TIMEOUT = 150.0


class TransactionAborted(DaasError):
    """The batch's transaction was aborted; its inputs must be read again."""


def _produce_outputs(producer: Producer, plan: BatchPlan, cases_topic: str,
                     report: DeliveryReport | None = None) -> None:
    """The clean outputs, dead letters and case changes of the plan."""
    for out in plan.outputs:
        produce(producer, out.topic, out.key, out.value, headers=out.headers, on_delivery=report)
    for message in plan.cases:
        key, value = message.encode()
        produce(producer, cases_topic, key, value, on_delivery=report)


def _produce_changelog(producer: Producer, plan: BatchPlan, report: DeliveryReport | None = None) -> None:
    """The plan's de-duplication changelog entries, each to its input partition's changelog partition."""
    for topic, partition, record_id, entry in plan.changelog:
        produce(producer, topic, record_id.encode(), entry, partition=partition, on_delivery=report)


def _by_consumer(consumers: Mapping[str, Consumer], offsets: Mapping[tuple[str, int], int]
                 ) -> list[tuple[Consumer, list[TopicPartition]]]:
    """Offsets grouped by the consumer (the group) that reads their topic."""
    grouped: dict[str, list[TopicPartition]] = {}
    for (topic, partition), offset in offsets.items():
        grouped.setdefault(topic, []).append(TopicPartition(topic, partition, offset))
    return [(consumers[topic], tps) for topic, tps in grouped.items()]


class AtLeastOnce:
    """Outputs acknowledged, then state acknowledged, then offsets committed."""

    guarantee = "at_least_once"

    def __init__(self, producer: Producer, consumers: Mapping[str, Consumer], *, cases_topic: str) -> None:
        self._producer = producer
        self._consumers = consumers  # input topic -> the consumer of its group
        self._cases_topic = cases_topic

    def deliver(self, plan: BatchPlan) -> None:
        """Make the plan durable and commit its offsets (asynchronously: a later commit covers a lost one)."""
        report = DeliveryReport()
        _produce_outputs(self._producer, plan, self._cases_topic, report)
        flush_or_raise(self._producer, report, _FLUSH_TIMEOUT)
        if plan.changelog:
            _produce_changelog(self._producer, plan, report)
            flush_or_raise(self._producer, report, _FLUSH_TIMEOUT)
        for consumer, offsets in _by_consumer(self._consumers, plan.offsets):
            consumer.commit(offsets=offsets, asynchronous=True)

    def commit_now(self, offsets: dict[tuple[str, int], int]) -> None:
        """Commit synchronously (before partitions are handed over, and at shutdown)."""
        for consumer, tps in _by_consumer(self._consumers, offsets):
            try:
                consumer.commit(offsets=tps, asynchronous=False)
            except KafkaException as exc:
                # The partitions moved already; their next owner reads from the last
                # commit and the idempotent outputs absorb the repeat.
                log.warning("could not commit %s before handing the partitions over: %s", tps, exc)

    def close(self) -> None:
        self._producer.flush(_FLUSH_TIMEOUT)


class ExactlyOnce:
    """One transaction per batch: outputs, state and input offsets commit together or not at all."""

    guarantee = "exactly_once"

    def __init__(self, producer: Producer, consumers: Mapping[str, Consumer], *, cases_topic: str,
                 timeout: float = 60.0) -> None:
        self._producer = producer
        self._consumers = consumers  # input topic -> the consumer of its group
        self._cases_topic = cases_topic
        self._timeout = timeout
        self._call(lambda: producer.init_transactions(timeout), "init_transactions")

    def deliver(self, plan: BatchPlan) -> None:
        """Commit the plan in one transaction; raise TransactionAborted if it had to be aborted."""
        producer = self._producer
        producer.begin_transaction()
        try:
            _produce_outputs(producer, plan, self._cases_topic)
            _produce_changelog(producer, plan)
            for consumer, offsets in _by_consumer(self._consumers, plan.offsets):  # each group's, fenced by it
                self._call(lambda c=consumer, o=offsets: producer.send_offsets_to_transaction(
                    o, c.consumer_group_metadata(), self._timeout), "send_offsets_to_transaction")
            self._call(lambda: producer.commit_transaction(self._timeout), "commit_transaction")
        except KafkaException as exc:
            err = exc.args[0]
            if not err.txn_requires_abort():
                raise
            log.warning("aborting the batch's transaction (%s); its inputs will be read again", err.str())
            self._call(lambda: producer.abort_transaction(self._timeout), "abort_transaction")
            raise TransactionAborted(err.str()) from exc

    def commit_now(self, offsets: dict[tuple[str, int], int]) -> None:
        """Nothing to do: every batch committed its offsets in its transaction."""

    def close(self) -> None:
        """Nothing is left open between batches."""

    @staticmethod
    def _call(fun: Callable[[], Any], what: str, attempts: int = 10) -> Any:
        """Call a transactional API, again while librdkafka says the error is retriable."""
        delays = Backoff(initial=0.1, maximum=2.0, max_retries=attempts - 1).delays()
        while True:
            try:
                return fun()
            except KafkaException as exc:
                err: KafkaError = exc.args[0]
                delay = next(delays, None) if err.retriable() else None
                if delay is None:
                    raise
                log.info("%s: %s; trying again in %.1fs", what, err.str(), delay)
                time.sleep(delay)
