"""The one loop every sink runs in; the order that makes sinks exactly-once in effect.

For each assigned partition the runner keeps a buffer of consumed messages and
follows, always in this order:

1. consume a bounded batch (``consume_batch`` messages; librdkafka's prefetch queue
   is capped too) and append each message to its partition's buffer;
2. when a buffer holds a complete write (the sink's :class:`FlushPolicy`, its known
   ranges, the idle timer, the memory budget or shutdown decide), hand those offsets
   to ``Sink.write`` as a :class:`Batch` that decodes in slices (with the sink's
   ``value_decoder``, the Avro codec by default); undecodable values never reach
   the sink;
3. ``Retryable`` from the sink: the partition is paused, backs off (capped,
   exponential, jittered) and the same offsets are written again later; any other
   exception stops the runner, because a bug must not look like back-pressure;
4. dead letters (undecodable values and records the destination refused, with the
   reasons) are produced, and the producer is flushed — failing if any is not
   acknowledged;
5. only then are the written offsets committed.

Writes run on one writer thread while the main thread keeps consuming, so decoding,
encoding and uploads overlap with fetching (a second writer thread measured no faster:
both would hold the same interpreter lock). Each partition has at most one write in
flight, and every call into the sink (``prepare``, ``write``, ``release``, ``close``)
runs on that thread, so sinks need not be thread-safe.

A crash anywhere before 5 replays those offsets, so ``Sink.write`` must be
idempotent. Memory is bounded by the :class:`Budget`: over it, the largest buffers
are written early; if that fails too, every partition is paused until buffers drain.
Newly assigned partitions stay paused until ``Sink.prepare`` succeeded (the S3 sink
reconciles its write-ahead ledger there). Called by ``python -m sinks``, ``daas
sink``, the demo and the tests.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from daas.backoff import Backoff
from daas.dead_letter import DeadLetter, Reason
from daas.errors import Retryable, SinkError
from daas.kafka import (
    DeliveryError,
    DeliveryReport,
    create_consumer,
    create_producer,
    flush_or_raise,
    produce,
    require_brokers,
)
from daas.metrics import Telemetry
from daas.settings import Settings
from schemas import AvroCodec
from sinks.base.batch import Batch, Record, Rejection
from sinks.base.buffer import PartitionBuffer
from sinks.base.contract import PartitionStart, Sink
from sinks.base.policy import Budget

__all__ = ["RunStats", "SinkRunner"]

log = logging.getLogger(__name__)

TopicPart = tuple[str, int]
_T = TypeVar("_T")

# Prefetch bounded so that memory is the budget plus a little, not plus librdkafka's
# default 64 MiB queue; with a small queue, the fetcher must look again soon after it
# filled (librdkafka waits a whole second by default). A crashed instance's partitions
# move after 10 s, not 45 s.
_CONSUMER_DEFAULTS: dict[str, Any] = {"queued.max.messages.kbytes": 8192, "fetch.max.bytes": 8 * 2**20,
                                      "fetch.queue.backoff.ms": 20, "session.timeout.ms": 10_000,
                                      "heartbeat.interval.ms": 2_000}
# How long ``stop_when_idle`` waits for a first assignment (a crashed predecessor's
# session must expire first) before it counts a runner with no partitions as idle.
_JOIN_TIMEOUT = 60.0
# Commit failures meaning "these partitions are no longer ours": the next owner
# repeats the writes (idempotent), so they are logged, not fatal.
_MOVED = frozenset({KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID,
                    KafkaError.REBALANCE_IN_PROGRESS, KafkaError._STATE, KafkaError._ASSIGNMENT_LOST})
_COMMIT_ATTEMPTS = 6
_PAUSE_PREPARING, _PAUSE_BACKOFF, _PAUSE_BUDGET = "preparing", "backoff", "budget"


@dataclass
class RunStats:
    """What a run did; ``written`` counts records the destination holds."""

    consumed: int = 0
    written: int = 0
    dead_lettered: int = 0
    batches: int = 0
    commits: int = 0
    retries: int = 0
    peak_buffered_bytes: int = 0
    per_partition: dict[TopicPart, int] = field(default_factory=dict)


class _Metrics:
    """A sink's Prometheus metrics (``daas.metrics``), labelled with the sink's name once."""

    def __init__(self, telemetry: Telemetry, sink: str) -> None:
        self.sink = sink
        self.written = telemetry.counter("daas_sink_records_written_total", "Records made durable",
                                         ("sink",)).labels(sink)
        self.dead_letters = telemetry.counter("daas_dead_letters_total", "Records dead-lettered, by stage and reason",
                                              ("stage", "reason"))
        self.write_records = telemetry.histogram("daas_sink_write_records", "Records per write", ("sink",),
                                                 buckets=(10, 100, 1000, 5000, 10_000, 50_000, 100_000)).labels(sink)
        self.write_seconds = telemetry.histogram("daas_sink_write_seconds", "Time from a write's start to its "
                                                 "result", ("sink",)).labels(sink)
        self.latency = telemetry.histogram("daas_sink_produce_to_commit_seconds",
                                           "Record timestamp to the commit that covers it (last of each write)",
                                           ("sink",)).labels(sink)
        self.retries = telemetry.counter("daas_sink_retries_total", "Writes or preparations retried",
                                         ("sink",)).labels(sink)
        self.buffered = telemetry.gauge("daas_sink_buffered_bytes", "Bytes buffered across partitions",
                                        ("sink",)).labels(sink)
        self.lag = telemetry.gauge("daas_consumer_lag", "Records behind the end of the partition",
                                   ("group", "topic", "partition"))


@dataclass
class _InFlight:
    future: Future[list[Rejection]]
    batch: Batch
    count: int
    began: float = field(default_factory=time.monotonic)


@dataclass
class _Partition:
    buffer: PartitionBuffer
    backoff: Backoff
    prepared: bool = False
    expected: int = 0
    retry_at: float = 0.0
    paused_for: set[str] = field(default_factory=set)
    inflight: _InFlight | None = None


class SinkRunner:
    """Consumes one topic in a consumer group and drives one sink in the order above."""

    def __init__(self, settings: Settings, sink: Sink, *, topic: str, group_id: str,
                 codec: AvroCodec | None = None, budget: Budget | None = None,
                 consume_batch: int = 5000, poll_timeout: float = 0.2,
                 backoff: Callable[[], Backoff] = Backoff, shutdown_timeout: float = 30.0,
                 consumer_config: Mapping[str, Any] | None = None, telemetry: Telemetry | None = None) -> None:
        self.settings = settings
        self.sink = sink
        self.topic = topic
        self.group_id = group_id
        self.budget = budget or Budget()
        self.consume_batch = consume_batch
        self.poll_timeout = poll_timeout
        self.shutdown_timeout = shutdown_timeout
        self.stats = RunStats()
        self.telemetry = telemetry or Telemetry(f"{sink.name}-sink")
        self._metrics = _Metrics(self.telemetry, sink.name)
        self._lag_checked = 0.0
        self._new_backoff = backoff
        self._consumer_config = {**_CONSUMER_DEFAULTS, **(consumer_config or {})}
        decode = sink.value_decoder()
        if decode is None:
            codec = codec or AvroCodec.from_settings(settings.schema_registry_url, settings.schema_dir)
            decode = codec.with_logical_types(sink.logical_types).decode_record
        self._decode = decode
        self._dlq_topic = settings.topics.dlq
        self._parts: dict[TopicPart, _Partition] = {}
        self._consumer: Consumer | None = None
        self._producer: Any = None
        self._writer: ThreadPoolExecutor | None = None
        self._report = DeliveryReport()
        self._last_activity = time.monotonic()
        self._started = time.monotonic()
        self._ever_assigned = False
        self._warned_at: dict[int, float] = {}

    # -- the loop ---------------------------------------------------------------

    def run(self, *, should_stop: Callable[[], bool] = lambda: False,
            stop_when_idle: float | None = None) -> RunStats:
        """Run until ``should_stop()`` or, with ``stop_when_idle``, until no record
        arrived for that many seconds; then write what is buffered and commit.

        Fails fast (``BrokersUnreachable``) when no broker answers at start-up."""
        require_brokers(self.settings)
        consumer = self._consumer = create_consumer(self.settings, self.group_id, **self._consumer_config)
        self._producer = create_producer(self.settings)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.sink.name}-writer")
        consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                           on_lost=self._on_revoke)
        self._last_activity = self._started = time.monotonic()
        graceful = False
        try:
            while True:
                self.telemetry.beat()
                if should_stop():
                    graceful = True
                    break
                self._prepare_pending()
                messages = consumer.consume(self.consume_batch, timeout=self.poll_timeout)
                self._accept(messages)
                written = self._collect()
                self._start_due()
                self._enforce_budget()
                self._commit(written)
                self._measure_lag()
                if stop_when_idle is not None and self._idle_for(stop_when_idle):
                    graceful = True
                    break
            self._drain()
        finally:
            try:
                consumer.close()
            finally:
                try:
                    self._call(self.sink.close)
                finally:
                    self._writer.shutdown(wait=True)
                    if not graceful:
                        log.error("%s stopped on an error; uncommitted offsets will be written again",
                                  self.sink.name)
        return self.stats

    def _call(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn`` on the writer thread (where every sink call happens) and wait."""
        assert self._writer is not None
        return self._writer.submit(fn, *args).result()

    def _idle_for(self, seconds: float) -> bool:
        now = time.monotonic()
        if any(not p.prepared for p in self._parts.values()):
            return False
        if not self._ever_assigned and now - self._started < max(seconds, _JOIN_TIMEOUT):
            return False
        return now - self._last_activity >= seconds

    # -- partitions come and go -------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Assigned paused: nothing is read before the sink has prepared the partition.
        consumer.incremental_assign(partitions)
        consumer.pause(partitions)
        for tp in partitions:
            self._parts[(tp.topic, tp.partition)] = _Partition(PartitionBuffer(self.sink.policy),
                                                                self._new_backoff(), paused_for={_PAUSE_PREPARING})
        self._last_activity = time.monotonic()
        self._ever_assigned = True
        log.info("%s assigned %s", self.sink.name, [(tp.topic, tp.partition) for tp in partitions])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # A write in flight finishes (and is committed) before the partition goes, so the
        # next owner never races it; what is only buffered is dropped uncommitted and
        # read again by the next owner.
        keys = [(tp.topic, tp.partition) for tp in partitions]
        finished: dict[TopicPart, int] = {}
        for key in keys:
            part = self._parts.get(key)
            if part is None or part.inflight is None:
                continue
            done, _ = wait([part.inflight.future], timeout=self.shutdown_timeout)
            if not done:
                log.error("%s: a write to %s[%d] outlived the rebalance timeout; its next owner may race it",
                          self.sink.name, *key)
            elif part.inflight.future.exception() is None:
                finished.update(self._finish(key, part))
            part.inflight = None
        self._commit(finished)
        for key in keys:
            if self._parts.pop(key, None) is not None:
                self._call(self.sink.release, *key)
        log.info("%s released %s", self.sink.name, keys)

    def _prepare_pending(self) -> None:
        now = time.monotonic()
        pending = [tp for tp, p in self._parts.items() if not p.prepared and p.retry_at <= now]
        if not pending:
            return
        consumer = self._consumer
        assert consumer is not None
        try:
            committed = {(tp.topic, tp.partition): tp.offset for tp in
                         consumer.committed([TopicPartition(t, p) for t, p in pending], timeout=10)}
        except KafkaException as exc:
            for tp in pending:
                self._retry_later(tp, f"reading committed offsets: {exc}")
            return
        for tp in pending:
            part = self._parts.get(tp)
            if part is None:
                continue
            try:
                low, high = consumer.get_watermark_offsets(TopicPartition(*tp), timeout=10, cached=False)
                offset = committed.get(tp)
                start = PartitionStart(tp[0], tp[1], offset if offset is not None and offset >= 0 else None,
                                       low, high)
                plan = self._call(self.sink.prepare, start)
                target = plan.seek_to if plan.seek_to is not None else start.position
                consumer.seek(TopicPartition(tp[0], tp[1], target))
            except (Retryable, KafkaException) as exc:
                self._retry_later(tp, f"preparing: {exc}")
                continue
            part.buffer = PartitionBuffer(self.sink.policy, plan.ranges)
            part.expected = target
            part.prepared = True
            part.backoff.reset()
            log.info("%s prepared %s[%d] at offset %d (committed %s, %d known ranges)", self.sink.name,
                     tp[0], tp[1], target, start.committed, len(plan.ranges))
            self._unpause(tp, _PAUSE_PREPARING)

    def _retry_later(self, tp: TopicPart, why: str) -> None:
        part = self._parts.get(tp)
        if part is None:
            return
        delay = part.backoff.next_delay()
        part.retry_at = time.monotonic() + delay
        self.stats.retries += 1
        self._metrics.retries.inc()
        log.warning("%s %s[%d] %s; retrying in %.1fs with the partition paused", self.sink.name, tp[0], tp[1],
                    why, delay)

    def _pause(self, tp: TopicPart, reason: str) -> None:
        part = self._parts.get(tp)
        if part is None:
            return
        if not part.paused_for and self._consumer is not None:
            self._consumer.pause([TopicPartition(*tp)])
        part.paused_for.add(reason)

    def _unpause(self, tp: TopicPart, reason: str) -> None:
        part = self._parts.get(tp)
        if part is None or reason not in part.paused_for:
            return
        part.paused_for.discard(reason)
        if not part.paused_for and self._consumer is not None:
            self._consumer.resume([TopicPartition(*tp)])

    # -- messages in ------------------------------------------------------------

    def _accept(self, messages: list[Message]) -> None:
        by_partition: dict[TopicPart, list[Message]] = {}
        for msg in messages:
            err = msg.error()
            if err is not None:
                self._consumer_error(err)
                continue
            tp = (msg.topic() or "", msg.partition() or 0)
            found = by_partition.get(tp)
            if found is None:
                by_partition[tp] = [msg]
            else:
                found.append(msg)
        for tp, batch in by_partition.items():
            part = self._parts.get(tp)
            if part is None or not part.prepared:
                continue  # prepare() seeks to the right offset before resuming
            expected = part.expected
            if (batch[0].offset() or 0) < expected:  # a prefetch overlap after a seek
                batch = [m for m in batch if (m.offset() or 0) >= expected]
                if not batch:
                    continue
            if part.paused_for:
                # Fetched before the pause: read again from here after the resume.
                if self._consumer is not None:
                    self._consumer.seek(TopicPartition(tp[0], tp[1], expected))
                continue
            part.buffer.extend(batch)
            part.expected = (batch[-1].offset() or 0) + 1
            self.stats.consumed += len(batch)
        if by_partition:
            self._last_activity = time.monotonic()

    def _consumer_error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._PARTITION_EOF:
            return
        if err.fatal():
            raise SinkError(f"{self.sink.name}: fatal Kafka consumer error on {self.topic}: {err.str()}")
        now = time.monotonic()
        if now - self._warned_at.get(err.code(), -1e9) > 30:
            self._warned_at[err.code()] = now
            log.warning("%s: consumer error on %s (will keep trying): %s", self.sink.name, self.topic, err.str())

    # -- writes -----------------------------------------------------------------

    def _position(self, tp: TopicPart) -> Callable[[], int | None]:
        def position() -> int | None:
            if self._consumer is None:
                return None
            (found,) = self._consumer.position([TopicPartition(*tp)])
            return found.offset if found.offset >= 0 else None
        return position

    def _start_due(self, *, force: bool = False) -> None:
        now = time.monotonic()
        for tp, part in self._parts.items():
            if part.prepared and part.inflight is None and part.retry_at <= now:
                count = part.buffer.ready(force=force, position=self._position(tp))
                if count:
                    self._start_write(tp, part, count)

    def _start_write(self, tp: TopicPart, part: _Partition, count: int) -> None:
        assert self._writer is not None
        part.buffer.seal(count)
        messages = part.buffer.peek(count)
        first = messages[0].offset() or 0
        next_offset = part.buffer.next_offset_after(count)
        batch = Batch(tp[0], tp[1], first_offset=first, next_offset=next_offset, messages=messages,
                      decode=self._decode)
        log.info("%s writing %s[%d] offsets [%d, %d) (%d messages)", self.sink.name, tp[0], tp[1], first,
                 next_offset, count)
        part.inflight = _InFlight(self._writer.submit(self.sink.write, batch), batch, count)

    def _collect(self) -> dict[TopicPart, int]:
        """Finish the writes that are done; return the offsets now safe to commit."""
        written: dict[TopicPart, int] = {}
        for tp, part in list(self._parts.items()):
            if part.inflight is not None and part.inflight.future.done():
                written.update(self._finish(tp, part))
                part.inflight = None
        return written

    def _finish(self, tp: TopicPart, part: _Partition) -> dict[TopicPart, int]:
        inflight = part.inflight
        assert inflight is not None
        batch = inflight.batch
        try:
            rejected = inflight.future.result()
        except Retryable as exc:
            self._retry_later(tp, f"write of [{batch.first_offset}, {batch.next_offset}) failed: {exc}")
            self._pause(tp, _PAUSE_BACKOFF)
            return {}
        dead = batch.undecodable + rejected
        for record, reason in dead:
            self._dead_letter(record, reason)
        part.buffer.take(inflight.count)
        part.backoff.reset()
        self._unpause(tp, _PAUSE_BACKOFF)
        good = inflight.count - len(dead)
        self.stats.written += good
        self.stats.dead_lettered += len(dead)
        self.stats.batches += 1
        self.stats.per_partition[tp] = self.stats.per_partition.get(tp, 0) + good
        metrics = self._metrics
        metrics.written.inc(good)
        for code, n in Counter(reason.code for _record, reason in dead).items():
            metrics.dead_letters.labels(metrics.sink, code).inc(n)
        metrics.write_records.observe(inflight.count)
        metrics.write_seconds.observe(time.monotonic() - inflight.began)
        last = batch.last_timestamp_ms()
        if last is not None:
            metrics.latency.observe(max(0.0, time.time() - last / 1000))
        return {tp: batch.next_offset}

    def _dead_letter(self, record: Record, reason: Reason) -> None:
        # In the form that fits the topic: a record too large to dead-letter whole must
        # not stop the sink (it would fail the same way after every restart).
        letter = DeadLetter.of(record, [reason], stage=self.sink.name).fitting(self.settings.kafka_max_message_bytes)
        produce(self._producer, self._dlq_topic, letter.key, letter.value, headers=letter.headers(),
                on_delivery=self._report)

    def _enforce_budget(self) -> None:
        budget = self.budget
        memory, records = self._buffered()
        if memory > budget.max_bytes or records > budget.max_records:
            # Write the largest buffers early; read nothing more until they drained.
            now = time.monotonic()
            for tp, part in sorted(self._parts.items(), key=lambda item: -item[1].buffer.memory):
                if part.prepared and part.inflight is None and part.retry_at <= now and len(part.buffer):
                    self._start_write(tp, part, part.buffer.ready(force=True))
                    break
            for tp in self._parts:
                self._pause(tp, _PAUSE_BUDGET)
        elif (memory <= budget.max_bytes * budget.resume_fraction
              and records <= budget.max_records * budget.resume_fraction):
            for tp in list(self._parts):
                self._unpause(tp, _PAUSE_BUDGET)

    def _buffered(self) -> tuple[int, int]:
        memory = sum(p.buffer.memory for p in self._parts.values())
        records = sum(len(p.buffer) for p in self._parts.values())
        self.stats.peak_buffered_bytes = max(self.stats.peak_buffered_bytes, memory)
        self._metrics.buffered.set(memory)
        return memory, records

    def _measure_lag(self) -> None:
        """Lag per partition from the consumer's cached watermarks, every few seconds."""
        now = time.monotonic()
        if now - self._lag_checked < 5 or self._consumer is None:
            return
        self._lag_checked = now
        for (topic, partition), part in self._parts.items():
            try:
                _low, high = self._consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            except KafkaException:
                continue
            if part.prepared and high >= 0:
                lag = max(0, high - part.expected + len(part.buffer))
                self._metrics.lag.labels(self.group_id, topic, str(partition)).set(lag)

    # -- commit -----------------------------------------------------------------

    def _commit(self, written: dict[TopicPart, int]) -> None:
        if not written:
            return
        try:
            flush_or_raise(self._producer, self._report)
        except DeliveryError as exc:
            raise SinkError(f"{self.sink.name}: dead letters were not acknowledged, so offsets are not "
                            f"committed (they will be written again after a restart): {exc}") from exc
        offsets = [TopicPartition(t, p, o) for (t, p), o in written.items() if (t, p) in self._parts]
        if not offsets:
            return
        consumer = self._consumer
        assert consumer is not None
        delays = Backoff(initial=0.2, maximum=5.0, jitter=0.0, max_retries=_COMMIT_ATTEMPTS - 1).delays()
        while True:
            try:
                result = consumer.commit(offsets=offsets, asynchronous=False) or []
                errors = [tp.error for tp in result if tp.error is not None]
                if errors:
                    raise KafkaException(errors[0])
            except KafkaException as exc:
                err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
                if err is not None and err.code() in _MOVED:
                    log.warning("%s: commit of %s refused (%s): the partitions moved; their next owner "
                                "writes these offsets again", self.sink.name, written, err.str())
                    return
                delay = next(delays, None) if err is not None and err.retriable() else None
                if delay is not None:
                    time.sleep(delay)
                    continue
                raise SinkError(f"{self.sink.name}: could not commit offsets {written}: {exc}") from exc
            self.stats.commits += 1
            log.info("%s committed %s", self.sink.name, {f"{t}[{p}]": o for (t, p), o in written.items()})
            return

    # -- shutdown ---------------------------------------------------------------

    def _drain(self) -> None:
        """Write and commit everything buffered, retrying until ``shutdown_timeout``."""
        deadline = time.monotonic() + self.shutdown_timeout
        while True:
            self._commit(self._collect())
            self._start_due(force=True)
            busy = [p for p in self._parts.values() if p.prepared and (len(p.buffer) or p.inflight)]
            if not busy:
                return
            if time.monotonic() >= deadline:
                log.error("%s: shutting down with %d partitions unwritten; they stay uncommitted and are read "
                          "again on restart", self.sink.name, len(busy))
                return
            futures = [p.inflight.future for p in busy if p.inflight is not None]
            if futures:
                wait(futures, timeout=1.0)
            else:
                time.sleep(0.05)
