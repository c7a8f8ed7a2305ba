"""The Faust worker: raw topics in; clean routes, dead letters and surveillance out.

``create_app`` wires the topics from the settings; no settings are read at import.

Ordering that keeps the guarantees (DESIGN.md §5): for each batch, every output is
awaited until Kafka acknowledged it, then the records are marked in the
de-duplication table (store and changelog, also acknowledged), and only then does
the batch end and its events are acknowledged; Faust commits acknowledged offsets.
A batch that fails ends the process before its events are acknowledged. With
``exactly_once``, outputs, marks and offsets of an input partition commit in that
partition's Kafka transaction, never in the middle of a batch
(``stream_processors.outputs``).

Surveillance runs as a second agent. The ``process`` agent sends, per batch and
series (country, district, diagnosis group), the record ids it forwarded with their
ISO week — and, when a newer version of a record moved it to another series or week,
the removal from the old one — keyed by the series, so all weeks of one series meet
in one partition. The ``surveil`` agent keeps them as members of a changelogged
table, so a count is the number of distinct records and replays never count twice
(``stream_processors.state``); it publishes the counts to the compacted counts topic
and runs the outbreak detectors. Each alert is published once per district,
disease, week and level (at least once if the worker dies between delivering the
alert and remembering it).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import faust

from daas.errors import ConfigurationError
from daas.kafka import create_producer, msk_iam_token
from daas.settings import Settings
from schemas import AvroCodec
from stream_processors.outputs import CommitBarrier, KafkaSender, TransactionalSender, run_batch
from stream_processors.pipeline import InputMessage, Processor
from stream_processors.reference_view import country_aliases, load_reference
from stream_processors.state import BatchedTable, CaseMembers, DedupState, Seen, TransactionJournal
from stream_processors.surveillance import Alert, CaseKey, evaluate, incidence_per_100k
from stream_processors.transform import Context

__all__ = ["BATCH_SIZE", "create_app"]

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
BATCH_WAIT = 0.5  # seconds a partial batch waits for more events


def _headers(message: Any) -> list[tuple[str, bytes]]:
    headers = message.headers or []
    items = headers.items() if isinstance(headers, dict) else headers
    return [(k, v if isinstance(v, bytes) else str(v).encode()) for k, v in items]


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


def _async(fun: Any) -> Any:
    """``fun`` as the coroutine function Faust's recovery callbacks must be."""
    async def call() -> None:
        fun()
    return call


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
        # No standby copies: the memory store would hold them next to the active
        # partitions, and the indexes in `stream_processors.state` cover active ones.
        # A taken-over partition is recovered from its (compacted) changelog instead.
        table_standby_replicas=0,
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
    # The agents' inputs; outputs go through the senders (the topics are created by
    # `daas.kafka.ensure_topics`, with the retention DESIGN.md §3 gives them).
    raw = app.topic(topics.raw_simuhealth, topics.raw_gsheet, key_type=bytes, value_type=bytes)
    cases_topic = app.topic(topics.surveillance_cases, key_type=bytes, value_type=bytes)

    def json_schema() -> faust.Schema:
        return faust.Schema(key_serializer="json", value_serializer="json")

    # Both tables are co-partitioned with their agent's input: the raw topics' key
    # (encounter id / sheet row) determines the record id; the cases topic is keyed
    # by series. See ``stream_processors.state`` for what they hold and how they stay bounded.
    exactly_once = settings.processing_guarantee == "exactly_once"
    tables = {name: app.Table(name, default=lambda: None, partitions=settings.kafka_partitions, schema=json_schema())
              for name in ("dedup", "case-members", "alerts-sent")}
    dedup = DedupState(tables["dedup"], window_ms=int(settings.dedup_window_hours * 3600 * 1000),
                       journal=exactly_once)
    members = CaseMembers(tables["case-members"], horizon_weeks=settings.surveillance_horizon_weeks,
                          journal=exactly_once)
    alerted = BatchedTable(tables["alerts-sent"], journal=exactly_once)
    tables["dedup"].on_recover(_async(dedup.rebuild))
    tables["case-members"].on_recover(_async(members.rebuild))
    stats = {"processed": 0, "clean": 0, "dead_lettered": 0, "duplicates": 0, "dedup_expired": 0,
             "cases_counted": 0, "cases_counted_before": 0, "cases_late": 0}

    barrier = CommitBarrier()
    if exactly_once:
        journal = TransactionJournal(lambda topic: app.assignor.group_for_topic(topic))
        journal.track(dedup.table, topics.raw_simuhealth, dedup.rebuild)
        journal.track(members.table, topics.surveillance_cases, members.rebuild)
        journal.track(alerted, topics.surveillance_cases, lambda: None)

        log.warning("exactly-once mode is proven with one worker per consumer group; see the README")

        @app.on_partitions_assigned.connect
        async def guard_commits(sender: Any, assigned: Any, **_: Any) -> None:
            # The consumer exists by the first assignment, before any batch.
            barrier.guard(app.consumer, app.producer, journal)

        sender_factory = lambda: TransactionalSender(app)  # noqa: E731
    else:
        # Created on the first batch: building the app connects to nothing.
        shared_producer = functools.cache(lambda: create_producer(settings, **{"linger.ms": 5}))
        sender_factory = lambda: KafkaSender(shared_producer())  # noqa: E731

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
        outputs = sender_factory()
        in_batch: dict[str, tuple[Seen, int]] = {}  # a re-send can share a batch with its original
        # Surveillance changes per input partition (so in exactly-once mode they commit
        # in the transaction of the inputs they count) and per series (the cases key).
        cases: dict[int, dict[str, list[list[Any]]]] = defaultdict(lambda: defaultdict(list))
        event_of: dict[int, Any] = {}
        for event, result in zip(events, results, strict=True):
            partition = event.message.partition
            event_of[partition] = event
            if result.dead is not None:
                d = result.dead
                await outputs.send(event, topics.dlq, d.key, d.value, d.headers())
                stats["dead_lettered"] += 1
                continue
            record = result.record
            rid = str(record["record_id"])
            previous = in_batch[rid][0] if rid in in_batch else dedup.get(rid)
            if (previous is not None and previous.version >= record["source_version"]
                    and now_ms - previous.forwarded_ms < dedup.window_ms):
                stats["duplicates"] += 1
                continue
            series = CaseKey(record["country_code"], record["district"], record["diagnosis_group"]).text()
            in_batch[rid] = Seen(record["source_version"], now_ms, series, record["epi_week"]), partition
            for o in result.outputs:
                await outputs.send(event, o.topic, o.key, o.value, o.headers)
            if previous is not None and (previous.series, previous.epi_week) != (series, record["epi_week"]):
                cases[partition][previous.series].append([previous.epi_week, rid, -1])  # a correction moved it
            cases[partition][series].append([record["epi_week"], rid, 1])
            stats["clean"] += 1
        for partition, by_series in cases.items():
            for series, changes in by_series.items():
                await outputs.send(event_of[partition], topics.surveillance_cases, series.encode(),
                                   json.dumps([series, changes]).encode())
        await outputs.acknowledged()
        # Only now that the outputs are acknowledged are the records marked seen, and
        # the expired marks of these partitions swept (store and changelog).
        for rid, (seen, partition) in in_batch.items():
            dedup.mark(rid, seen, partition)
        stats["dedup_expired"] += dedup.expire(set(event_of), now_ms)
        marked = sender_factory()
        await dedup.table.send_changes(marked, event_of)
        await marked.acknowledged()
        stats["processed"] += len(events)

    @app.agent(raw, name="process")
    async def process(stream: faust.StreamT) -> None:
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WAIT):
            await run_batch(stream, events, _handle, barrier)

    async def _count(events: list[Any]) -> None:
        """Count one batch of cases; returns once counts, alerts and changelogs are acknowledged."""
        outputs = sender_factory()
        event_of: dict[int, Any] = {}
        touched: dict[tuple[str, str], int] = {}
        for event in events:
            partition = event.message.partition
            event_of[partition] = event
            series, changes = json.loads(event.message.value)
            for week, rid, sign in changes:
                if members.is_late(partition, week):
                    stats["cases_late"] += 1
                    continue
                if sign > 0:
                    fresh = members.add(series, week, rid, partition)
                    stats["cases_counted" if fresh else "cases_counted_before"] += 1
                else:
                    stats["cases_counted"] -= members.remove(series, week, rid, partition)
                touched[(series, week)] = partition
        for partition in event_of:
            for dropped in members.sweep(partition):
                touched.pop(dropped, None)
        raised: list[tuple[Any, Alert]] = []
        for (series, week), partition in sorted(touched.items()):
            # Every series-week the batch names is published, changed or not: a crash
            # after the membership changed but before its count was sent is repaired.
            key = CaseKey.parse(series)
            population = populations.get((key.country_code, key.district))
            count = members.count(series, week)
            await outputs.send(event_of[partition], topics.surveillance_counts, f"{series}|{week}".encode(),
                               json.dumps({
                                   "country_code": key.country_code, "district": key.district,
                                   "diagnosis_group": key.diagnosis_group, "epi_week": week, "cases": count,
                                   "population": population,
                                   "incidence_per_100k": incidence_per_100k(count, population),
                               }).encode())
            if not members.is_evaluable(partition, week):
                continue
            for alert in evaluate(key, week, lambda w, s=series: members.count(s, w), population):
                if alert.identity() not in alerted:
                    await outputs.send(event_of[partition], topics.surveillance_alerts, alert.identity().encode(),
                                       json.dumps(alert.as_dict()).encode())
                    raised.append((partition, alert))
        await members.table.send_changes(outputs, event_of)
        await outputs.acknowledged()
        # Delivered first, remembered second: a crash in between repeats an alert
        # rather than losing it.
        for partition, alert in raised:
            alerted.set(alert.identity(), alert.as_dict(), partition)
        remembered = sender_factory()
        await alerted.send_changes(remembered, event_of)
        await remembered.acknowledged()

    @app.agent(cases_topic, name="surveil")
    async def surveil(stream: faust.StreamT) -> None:
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WAIT):
            await run_batch(stream, events, _count, barrier)

    @app.page("/surveillance/current")
    async def current(web: Any, request: Any) -> Any:
        """This worker's partitions: the current ISO week's counts and the alerts raised for it."""
        iso = datetime.now(tz=UTC).isocalendar()
        week = f"{iso.year}W{iso.week:02d}"
        rows = [{"series": series, "cases": n} for series, w, n in members.counts() if w == week]
        alerts = [value for _key, value, _partition in alerted.items() if value["epi_week"] == week]
        return web.json({"epi_week": week, "counts": rows, "alerts": alerts, "stats": stats,
                         "dedup_entries": len(dedup)})

    return app
