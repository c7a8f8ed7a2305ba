"""The Faust worker: raw topics in; clean routes, dead letters and surveillance out.

``create_app`` wires the topics from the settings; no settings are read at import.

Ordering that keeps the guarantees (DESIGN.md §5): for each batch, every output is
awaited until Kafka acknowledged it, then the records are marked in the
de-duplication table (store and changelog, also acknowledged), and only then does
the batch end and Faust acknowledge its events; Faust commits acknowledged offsets.
A batch that fails ends the process before its events are acknowledged.

At least once (the default), outputs go through one librdkafka producer, batched.
With ``exactly_once``, outputs, marks and offsets of an input partition commit in
that partition's Kafka transaction.

Surveillance runs as a second agent: per batch, clean cases are summed per country,
district, diagnosis group and ISO week and sent keyed by the series (so all weeks of
one series meet in one partition), counted in a changelogged table, published to
the compacted counts topic, and run through the outbreak detectors; each alert is
published once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import json
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

import faust

from daas.kafka import DeliveryReport, msk_iam_token, create_producer, flush_or_raise
from daas.errors import ConfigurationError
from daas.settings import Settings
from schemas import AvroCodec
from stream_processors.pipeline import InputMessage, Processor
from stream_processors.reference_view import country_aliases, load_reference
from stream_processors.surveillance import CaseKey, evaluate, incidence_per_100k
from stream_processors.transform import Context

__all__ = ["BATCH_SIZE", "create_app"]

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
BATCH_WAIT = 0.5  # seconds a partial batch waits for more events


def _headers(message: Any) -> list[tuple[str, bytes]]:
    headers = message.headers or []
    items = headers.items() if isinstance(headers, dict) else headers
    return [(k, v if isinstance(v, bytes) else str(v).encode()) for k, v in items]


class _KafkaSender:
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
                self._producer.poll(0.01)

    async def acknowledged(self) -> None:
        """Return once Kafka acknowledged everything sent; raise DeliveryError otherwise."""
        await asyncio.get_running_loop().run_in_executor(None, flush_or_raise, self._producer, self._report)


class _FaustSender:
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


def _broker_credentials(settings: Settings) -> dict[str, Any]:
    """Faust (aiokafka) credentials matching ``daas.kafka.client_security``."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return {}
    import ssl

    if settings.kafka_auth != "aws_msk_iam":
        return {"broker_credentials": faust.SSLCredentials(ssl.create_default_context())}
    from aiokafka.abc import AbstractTokenProvider

    region = settings.require("kafka_aws_region")

    class _MskIamTokens(AbstractTokenProvider):
        async def token(self) -> str:
            return await asyncio.get_running_loop().run_in_executor(None, lambda: msk_iam_token(region)[0])

    return {"broker_credentials": faust.OAuthCredentials(oauth_cb=_MskIamTokens(),
                                                        ssl_context=ssl.create_default_context())}


def _district_populations() -> dict[tuple[str, str], int]:
    from reference import load_geography

    geo = load_geography()
    return {(f.country_code, f.district): geo.district(f.district_id).population
            for f in geo.facilities.values()}


def create_app(settings: Settings) -> faust.App:
    """A Faust app for ``settings``; run it with ``faust.Worker(app).execute_from_commandline()``."""
    topics = settings.topics
    app_id = settings.processor_app_id
    secret = settings.require("patient_key_secret").encode()
    facilities, icd10 = load_reference()
    aliases = country_aliases()
    if not settings.local_mode and len(secret) < 32:
        raise ConfigurationError("DAAS_PATIENT_KEY_SECRET must be at least 32 bytes outside local mode "
                                 "(take it from the secret store, e.g. 64 random hex characters)")
    populations = _district_populations()
    datadir = settings.runtime_dir.resolve() / "faust" / app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    web: dict[str, Any] = {"web_enabled": False}
    if settings.processor_web_port:
        web = {"web_enabled": True, "web_port": settings.processor_web_port, "web_bind": "127.0.0.1"}
    app = faust.App(
        app_id,
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        processing_guarantee=settings.processing_guarantee,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_compression_type="lz4",
        producer_linger=0.01,
        producer_max_batch_size=256 * 1024,
        broker_max_poll_records=2000,
        stream_buffer_maxsize=8192,
        broker_commit_interval=1.0,
        topic_partitions=settings.kafka_partitions,
        topic_allow_declare=True,
        datadir=str(datadir),
        **_broker_credentials(settings),
        **web,
    )
    route_topics = {"lake": topics.clean_lake, "ops": topics.clean_ops}
    processor = Processor(
        codec=AvroCodec.from_settings(settings.schema_registry_url),
        routes={source: [route_topics[r] for r in names] for source, names in settings.routes.items()},
        context=lambda: Context(facilities, icd10, secret, datetime.now(tz=UTC), aliases),
    )
    raw = app.topic(topics.raw_simuhealth, topics.raw_gsheet, key_type=bytes, value_type=bytes)
    out = {name: app.topic(name, key_type=bytes, value_type=bytes)
           for name in (topics.clean_lake, topics.clean_ops, topics.dlq)}
    cases_topic = app.topic(topics.surveillance_cases, key_type=bytes, value_type=bytes)
    counts_topic = app.topic(topics.surveillance_counts, key_type=bytes, value_type=bytes)
    alerts_topic = app.topic(topics.surveillance_alerts, key_type=bytes, value_type=bytes)

    window_ms = int(settings.dedup_window_hours * 3600 * 1000)
    # record_id -> [source_version, first seen (ms)]; co-partitioned with the raw topics,
    # whose key (encounter id / sheet row) determines the record id.
    def json_schema() -> faust.Schema:
        return faust.Schema(key_serializer="json", value_serializer="json")

    seen = app.Table("dedup", default=lambda: None, partitions=settings.kafka_partitions, schema=json_schema())
    counts = app.Table("weekly-counts", default=int, partitions=settings.kafka_partitions, schema=json_schema())
    alerted = app.Table("alerts-sent", default=bool, partitions=settings.kafka_partitions, schema=json_schema())
    stats = {"processed": 0, "clean": 0, "dead_lettered": 0, "duplicates": 0}

    if settings.processing_guarantee == "exactly_once":
        sender_factory = lambda: _FaustSender(app)  # noqa: E731
    else:
        kafka_producer = create_producer(settings, **{"linger.ms": 5})
        sender_factory = lambda: _KafkaSender(kafka_producer)  # noqa: E731

    async def _handle(events: list[Any]) -> None:
        """Process one batch; returns only once every output and mark is acknowledged."""
        batch = [
            InputMessage(e.message.topic, e.message.partition, e.message.offset,
                         int(e.message.timestamp * 1000), e.message.key, e.message.value,
                         _headers(e.message))
            for e in events
        ]
        results = processor.process(batch)
        now_ms = int(time.time() * 1000)
        outputs, marks = sender_factory(), []
        in_batch: dict[str, list[int]] = {}  # a re-send can share a batch with its original
        # Surveillance deltas per input partition, so in exactly-once mode each
        # delta commits in the transaction of the inputs it counts.
        deltas: dict[int, Counter[tuple[str, str]]] = defaultdict(Counter)
        last_event: dict[int, faust.types.EventT] = {}
        for event, result in zip(events, results, strict=True):
            if result.dead is not None:
                d = result.dead
                await outputs.send(event, topics.dlq, d.key, d.value, d.headers())
                stats["dead_lettered"] += 1
                continue
            rid = str(result.record["record_id"])
            version = result.record["source_version"]
            previous = in_batch.get(rid) or seen.data.get(rid)
            if previous is not None and previous[0] >= version and now_ms - previous[1] < window_ms:
                stats["duplicates"] += 1
                continue
            in_batch[rid] = [version, now_ms]
            for o in result.outputs:
                await outputs.send(event, o.topic, o.key, o.value, o.headers)
            case = CaseKey(result.record["country_code"], result.record["district"],
                           result.record["diagnosis_group"])
            deltas[event.message.partition][(case.text(), result.record["epi_week"])] += 1
            last_event[event.message.partition] = event
            marks.append((event, rid, version))
            stats["clean"] += 1
        for partition, counter in deltas.items():
            for (series, week), n in counter.items():
                await outputs.send(last_event[partition], topics.surveillance_cases, series.encode(),
                                   json.dumps([series, week, n]).encode())
        await outputs.acknowledged()
        # Only now that the outputs are acknowledged are the records marked seen:
        # the table's store, and its changelog on the input's partition (which is
        # what Faust itself would send, without its one-message-at-a-time buffer).
        changelog, marked = seen.changelog_topic.get_topic_name(), sender_factory()
        for event, rid, version in marks:
            seen.data[rid] = [version, now_ms]
            await marked.send(event, changelog, json.dumps(rid).encode(),
                              json.dumps([version, now_ms]).encode(), partition=event.message.partition)
        await marked.acknowledged()
        stats["processed"] += len(events)

    @app.agent(raw, name="process")
    async def process(stream: faust.StreamT) -> None:
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WAIT):
            try:
                await _handle(events)
            except BaseException:
                # take_events acknowledges a batch's events when its body ends, even
                # by an exception; Faust would then commit offsets whose outputs
                # were never acknowledged. Die at once instead: nothing more is
                # acknowledged or committed, and the restarted worker redoes the batch.
                log.critical("batch failed; exiting without acknowledging it", exc_info=True)
                os._exit(70)

    @app.agent(cases_topic, name="surveil")
    async def surveil(stream: faust.StreamT) -> None:
        async for value in stream:
            series, week, delta = json.loads(value)
            key = CaseKey.parse(series)
            counts[f"{series}|{week}"] += delta
            population = populations.get((key.country_code, key.district))
            count = counts[f"{series}|{week}"]
            await counts_topic.send(key=f"{series}|{week}".encode(), value=json.dumps({
                "country_code": key.country_code, "district": key.district,
                "diagnosis_group": key.diagnosis_group, "epi_week": week, "cases": count,
                "population": population, "incidence_per_100k": incidence_per_100k(count, population),
            }).encode())
            for alert in evaluate(key, week, lambda w: counts[f"{series}|{w}"], population):
                if not alerted[alert.identity()]:
                    # Delivered first, remembered second: a crash in between repeats the
                    # alert rather than losing it.
                    await (await alerts_topic.send(key=alert.identity().encode(),
                                                   value=json.dumps(alert.as_dict()).encode()))
                    alerted[alert.identity()] = True

    @app.page("/surveillance/current")
    async def current(web: Any, request: Any) -> Any:
        """This worker's partitions: the current ISO week's counts and the alerts raised."""
        iso = datetime.now(tz=UTC).isocalendar()
        week = f"{iso.year}W{iso.week:02d}"
        rows = [{"series": k.rsplit("|", 1)[0], "cases": v} for k, v in counts.items() if k.endswith(f"|{week}")]
        alerts = sorted(k for k, v in alerted.items() if v)
        return web.json({"epi_week": week, "counts": rows, "alerts": alerts, "stats": stats})

    return app
