"""The processor worker: raw topics in; clean routes, dead letters and case changes out, per batch.

One thread, one producer, and one librdkafka consumer per raw topic, each in its own
group (``processor_group``: ``<DAAS_PROCESSOR_APP_ID>-simuhealth`` and ``-gsheet``;
cooperative-sticky assignment, a short session timeout so a dead worker's
partitions move within seconds). A group per topic, because the cooperative-sticky
assignor balances a member's total partition count, not each topic's: with one
group over both topics, one of two workers would often get every SimuHealth
partition and the other the (nearly idle) sheet ones. Each turn of the loop:

1. restore the de-duplication state of newly assigned partitions from their
   changelog, after the group's committed offset for them is stable (they stay
   paused until then, so nothing is read against missing state);
2. consume a batch; decode, validate, de-identify and encode it
   (``Processor.process``); decide what to forward, count and remember
   (``plan_batch``);
3. make the plan durable under the configured guarantee and commit the offsets
   (``stream_processors.delivery``); only then apply the state changes.

Rebalance callbacks run inside ``consume``, between batches, when nothing is in
flight: a revoked partition's offsets are committed (at least once) and its state
dropped; the next owner restores it from the changelog. Started by ``daas process``
(and ``python -m stream_processors``); more workers in the same group share the
partitions.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from daas.errors import ConfigurationError, ProcessorError, Retryable
from daas.kafka import create_consumer, create_producer, require_brokers
from daas.metrics import Telemetry, start_telemetry
from daas.settings import Settings
from schemas import SHEET_ROW, SIMUHEALTH_ENCOUNTER, AvroCodec
from stream_processors.batch import BatchPlan, plan_batch
from stream_processors.changelog import ChangelogReader, changelog_topic, ensure_changelogs
from stream_processors.dedup import PartitionState
from stream_processors.delivery import AtLeastOnce, ExactlyOnce, TransactionAborted
from stream_processors.pipeline import InputMessage, Processor
from stream_processors.reference_view import country_aliases, load_reference
from stream_processors.transform import Context

__all__ = ["ProcessorWorker", "WorkerStats", "build_processor", "processor_group", "serve"]

log = logging.getLogger(__name__)

TopicPart = tuple[str, int]

# A dead worker's partitions move after the session timeout (the broker's minimum
# is 6 s); under exactly-once its open transaction must also time out before the
# next owner can read the committed offsets, so transactions are kept short.
_CONSUMER = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1500, "max.poll.interval.ms": 300_000,
             "queued.max.messages.kbytes": 32768, "fetch.queue.backoff.ms": 10}
# Delivery reports only for failures: a Python callback per acknowledged message costs
# more than the record's own produce call (flush still waits for every message).
_PRODUCER = {"linger.ms": 5, "batch.size": 1 << 20, "queue.buffering.max.messages": 1_000_000,
             "delivery.report.only.error": True}
_TRANSACTION_TIMEOUT_MS = 10_000
_STATE_RETRY_SECONDS = 1.0


class _Metrics:
    """The worker's Prometheus metrics (``daas.metrics``)."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.records = telemetry.counter("daas_processor_records_total", "Input records, by what became of them",
                                         ("outcome",))
        self.dead_letters = telemetry.counter("daas_dead_letters_total", "Records dead-lettered, by stage and reason",
                                              ("stage", "reason"))
        self.batch_size = telemetry.histogram("daas_processor_batch_records", "Records per batch",
                                              buckets=(10, 100, 500, 1000, 2000, 5000, 10_000, 20_000))
        self.batch_seconds = telemetry.histogram("daas_processor_batch_seconds", "Batch time, consume to commit")
        self.latency = telemetry.histogram("daas_processor_produce_to_commit_seconds",
                                           "Input record timestamp to its batch's commit (every 10th record)")
        self.aborted = telemetry.counter("daas_processor_transactions_aborted_total", "Aborted batch transactions")
        self.lag = telemetry.gauge("daas_consumer_lag", "Records behind the end of the partition",
                                   ("group", "topic", "partition"))
        self.state = telemetry.gauge("daas_processor_state_entries", "De-duplication entries held")


@dataclass
class WorkerStats:
    """What a worker did since it started."""

    consumed: int = 0
    batches: int = 0
    counts: Counter[str] = field(default_factory=Counter)  # clean, dead_lettered, duplicates, ...


def processor_group(settings: Settings, input_topic: str) -> str:
    """The consumer group that reads ``input_topic`` (one per raw topic, see the module)."""
    source = "simuhealth" if input_topic == settings.topics.raw_simuhealth else "gsheet"
    return f"{settings.processor_app_id}-{source}"


def build_processor(settings: Settings) -> Processor:
    """The batch transform for ``settings``: codec, routes, reference data and the patient key."""
    secret = settings.require("patient_key_secret").encode()
    if not settings.local_mode and len(secret) < 32:
        raise ConfigurationError("DAAS_PATIENT_KEY_SECRET must be at least 32 bytes outside local mode "
                                 "(take it from the secret store, e.g. 64 random hex characters)")
    facilities, icd10 = load_reference()
    aliases = country_aliases()
    topics = settings.topics
    route_topics = {"lake": topics.clean_lake, "ops": topics.clean_ops}
    return Processor(
        codec=AvroCodec.from_settings(settings.schema_registry_url, settings.schema_dir),
        routes={source: [route_topics[r] for r in names] for source, names in settings.routes.items()},
        context=lambda: Context(facilities, icd10, secret, datetime.now(tz=UTC), aliases),
        record_types={topics.raw_simuhealth: SIMUHEALTH_ENCOUNTER, topics.raw_gsheet: SHEET_ROW},
        max_message_bytes=settings.kafka_max_message_bytes,
    )


class ProcessorWorker:
    """One member of the processor's consumer group; ``run`` until told to stop."""

    def __init__(self, settings: Settings, *, poll_timeout: float = 0.05, instance_id: str | None = None,
                 telemetry: Telemetry | None = None) -> None:
        self.settings = settings
        self.batch_size = settings.processor_batch_size
        self.telemetry = telemetry or Telemetry("processor")
        self._metrics = _Metrics(self.telemetry)
        self._lag_checked = 0.0
        self.poll_timeout = poll_timeout
        self.instance_id = instance_id or settings.processor_instance_id or uuid.uuid4().hex[:12]
        self.stats = WorkerStats()
        topics = settings.topics
        self.inputs = [topics.raw_simuhealth, topics.raw_gsheet]
        self._processor = build_processor(settings)
        self._window_ms = int(settings.dedup_window_hours * 3600 * 1000)
        self._states: dict[TopicPart, PartitionState] = {}
        self._restoring: set[TopicPart] = set()
        self._processed: dict[TopicPart, int] = {}  # next offset, per partition, since the last commit_now
        self._consumers: dict[str, Consumer] = {}  # input topic -> its group's consumer
        self._turn = 0
        self._delivery: AtLeastOnce | ExactlyOnce | None = None
        self._reader: ChangelogReader | None = None
        self._last_record = time.monotonic()
        self._warned: dict[int, float] = {}

    # -- lifecycle ----------------------------------------------------------------

    def run(self, *, should_stop: Callable[[], bool] = lambda: False,
            stop_when_idle: float | None = None) -> WorkerStats:
        """Process until ``should_stop()``, or until no record arrived for ``stop_when_idle`` seconds."""
        settings = self.settings
        require_brokers(settings)  # fail fast, naming the setting, rather than wait in silence
        ensure_changelogs(settings, self.inputs)
        exactly_once = settings.processing_guarantee == "exactly_once"
        client_id = f"{settings.processor_app_id}-{self.instance_id}"
        consumers = self._consumers = {
            topic: create_consumer(settings, processor_group(settings, topic), **_CONSUMER, **{"client.id": client_id})
            for topic in self.inputs}
        producer_config: dict[str, Any] = dict(_PRODUCER)
        if exactly_once:
            producer_config.update({"transactional.id": client_id,
                                    "transaction.timeout.ms": _TRANSACTION_TIMEOUT_MS,
                                    "message.timeout.ms": _TRANSACTION_TIMEOUT_MS})
        producer = create_producer(settings, **producer_config, **{"client.id": client_id})
        cases = settings.topics.surveillance_cases
        self._delivery = (ExactlyOnce(producer, consumers, cases_topic=cases) if exactly_once
                          else AtLeastOnce(producer, consumers, cases_topic=cases))
        self._reader = ChangelogReader(settings)
        for topic, consumer in consumers.items():
            consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost)
        log.info("processor %s (%s) joined groups %s", self.instance_id, self._delivery.guarantee,
                 sorted(processor_group(settings, t) for t in consumers))
        self._last_record = time.monotonic()
        try:
            while not should_stop():
                self.telemetry.beat()
                self._restore_assigned()
                self._step(self._consume())
                self._measure_lag()
                if stop_when_idle is not None and self._idle_for(stop_when_idle):
                    break
            self._delivery.commit_now(self._processed)
            self._processed.clear()
        finally:
            for consumer in consumers.values():
                consumer.close()  # leaves the groups: the partitions move now, not after the session timeout
            self._delivery.close()
            self._reader.close()
        return self.stats

    def _consume(self) -> list[Any]:
        """Up to a batch from every input: the first consumer asked may wait, the others are only
        asked for what they hold; who goes first rotates, so a busy topic starves no other."""
        order = list(self._consumers.values())
        self._turn = (self._turn + 1) % len(order)
        messages: list[Any] = []
        for i, consumer in enumerate(order[self._turn:] + order[:self._turn]):
            wanted = self.batch_size - len(messages)
            if wanted <= 0:
                break
            messages += consumer.consume(wanted, timeout=self.poll_timeout if i == 0 else 0)
        return messages

    def _idle_for(self, seconds: float) -> bool:
        return not self._restoring and time.monotonic() - self._last_record >= seconds

    # -- partitions come and go -----------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Paused until their state is restored.
        consumer.incremental_assign(partitions)
        consumer.pause(partitions)
        self._restoring.update((tp.topic, tp.partition) for tp in partitions)
        log.info("assigned %s", sorted((tp.topic, tp.partition) for tp in partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        assert self._delivery is not None
        self._delivery.commit_now({tp: o for tp, o in self._processed.items() if tp in revoked})
        self._forget(revoked)
        log.info("revoked %s", sorted(revoked))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lost = {(tp.topic, tp.partition) for tp in partitions}
        self._forget(lost)
        log.warning("lost %s (the session expired); their next owner processes them", sorted(lost))

    def _forget(self, partitions: set[TopicPart]) -> None:
        for tp in partitions:
            self._states.pop(tp, None)
            self._processed.pop(tp, None)
        self._restoring -= partitions

    def _restore_assigned(self) -> None:
        """Restore the state of assigned partitions, then let them be read from the committed offset."""
        if not self._restoring:
            return
        reader = self._reader
        assert reader is not None
        pending = sorted(self._restoring)
        try:
            # Read first: with read_committed this waits until no transaction that
            # commits offsets for these partitions is open, so the changelog read
            # next includes everything those offsets stand for.
            committed = [found for topic in sorted({t for t, _p in pending})
                         for found in self._consumers[topic].committed(
                             [TopicPartition(t, p) for t, p in pending if t == topic], timeout=30)]
        except KafkaException as exc:
            log.warning("reading committed offsets of %s: %s; trying again", pending, exc)
            time.sleep(_STATE_RETRY_SECONDS)
            return
        began = time.monotonic()
        names = {(tp.topic, tp.partition): (changelog_topic(self.settings.processor_app_id, tp.topic), tp.partition)
                 for tp in committed}
        try:
            restored = reader.read(list(names.values()))
        except Retryable as exc:
            log.warning("restoring %s: %s; trying again", pending, exc)
            time.sleep(_STATE_RETRY_SECONDS)
            return
        for tp in committed:
            key = (tp.topic, tp.partition)
            state = PartitionState(self._window_ms)
            state.restored(restored[names[key]])
            self._states[key] = state
            self._restoring.discard(key)
            consumer = self._consumers[tp.topic]
            consumer.seek(TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING))
            consumer.resume([TopicPartition(tp.topic, tp.partition)])
            log.info("restored %s[%d] (%d entries); reading from %s", tp.topic, tp.partition, len(state),
                     tp.offset if tp.offset >= 0 else "the beginning")
        log.info("restored %d partitions in %.2fs", len(committed), time.monotonic() - began)

    # -- batches ------------------------------------------------------------------

    def _step(self, messages: list[Any]) -> None:
        batch = []
        for msg in messages:
            err = msg.error()
            if err is not None:
                self._consumer_error(err)
                continue
            tp = (msg.topic(), msg.partition())
            if tp not in self._states:
                continue  # fetched before its pause; read again after the restore's seek
            kind, timestamp = msg.timestamp()
            if kind == TIMESTAMP_NOT_AVAILABLE:
                timestamp = int(time.time() * 1000)
            batch.append(InputMessage(tp[0], tp[1], msg.offset(), timestamp, msg.key(), msg.value(),
                                      msg.headers() or ()))
        if not batch:
            return
        began = self._last_record = time.monotonic()
        plan = plan_batch(batch, self._processor.process(batch), self._states,
                          dead_letter_topic=self.settings.topics.dlq,
                          changelog_topic=lambda topic: changelog_topic(self.settings.processor_app_id, topic),
                          max_message_bytes=self.settings.kafka_max_message_bytes)
        self._deliver(plan, batch, began)
        self.stats.consumed += len(batch)

    def _deliver(self, plan: BatchPlan, batch: list[InputMessage], began: float) -> None:
        assert self._delivery is not None
        try:
            self._delivery.deliver(plan)
        except TransactionAborted:
            self._metrics.aborted.inc()
            for (topic, partition), first in plan.first_offsets.items():
                if (topic, partition) in self._states:
                    self._consumers[topic].seek(TopicPartition(topic, partition, first))
            return
        for tp, changes in plan.state_changes.items():
            state = self._states.get(tp)
            if state is not None:
                state.apply(changes)
        self._processed.update(plan.offsets)
        self.stats.batches += 1
        self.stats.counts.update(plan.stats)
        self._record(plan, batch, began)

    def _record(self, plan: BatchPlan, batch: list[InputMessage], began: float) -> None:
        metrics = self._metrics
        now = time.time()
        for outcome in ("clean", "dead_lettered", "duplicates"):
            if plan.stats[outcome]:
                metrics.records.labels(outcome).inc(plan.stats[outcome])
        for reason, n in plan.dead_letter_reasons.items():
            metrics.dead_letters.labels("processor", reason).inc(n)
        metrics.batch_size.observe(len(batch))
        metrics.batch_seconds.observe(time.monotonic() - began)
        for msg in batch[::10]:
            metrics.latency.observe(max(0.0, now - msg.timestamp_ms / 1000))
        metrics.state.set(sum(len(s) for s in self._states.values()))

    def _measure_lag(self) -> None:
        """Lag per partition from the consumer's cached watermarks, every few seconds."""
        now = time.monotonic()
        if now - self._lag_checked < 5:
            return
        self._lag_checked = now
        for topic, consumer in self._consumers.items():
            held = [TopicPartition(t, p) for t, p in self._states if t == topic]
            group = processor_group(self.settings, topic)
            for tp in consumer.position(held) if held else []:
                try:
                    _low, high = consumer.get_watermark_offsets(tp, cached=True)
                except KafkaException:
                    continue
                if tp.offset >= 0 and high >= 0:
                    self._metrics.lag.labels(group, tp.topic, str(tp.partition)).set(max(0, high - tp.offset))

    def _consumer_error(self, err: KafkaError) -> None:
        if err.fatal():
            raise ProcessorError(f"fatal Kafka consumer error: {err.str()}")
        now = time.monotonic()
        if now - self._warned.get(err.code(), -1e9) > 30:
            self._warned[err.code()] = now
            log.warning("consumer error (will keep trying): %s", err.str())


def serve(settings: Settings) -> WorkerStats:
    """Run one worker until SIGTERM or SIGINT, then commit, leave the group and return its stats."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    telemetry = start_telemetry("processor", settings.metrics_port, settings.metrics_host)
    try:
        return ProcessorWorker(settings, telemetry=telemetry).run(should_stop=stop.is_set)
    finally:
        telemetry.close()
