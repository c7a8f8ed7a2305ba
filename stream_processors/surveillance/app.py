"""The surveillance service (Faust): weekly counts, incidence and outbreak alerts, and their web view.

Fed by the processor's case messages (``stream_processors.cases``: one per district
and input partition per batch, so Faust handles a small fraction of the record
rate). Per message, the ``surveil`` agent:

1. applies the message to the district's :class:`DistrictState` (changes at offsets
   already applied are skipped, so redelivery and replays count nothing twice);
2. runs outbreak detection on the weeks it changed, for the diseases under
   surveillance, and sends each new alert — awaited, so an alert the table
   remembers was delivered (one may repeat after a crash, none is lost);
3. writes the district's state (one table write) and marks the weekly counts it
   changed; a timer publishes the marked counts to the compacted counts topic once a
   second, so a count that changes a hundred times a second is sent once. A count is
   a value, not an event (the latest wins), so it is sent by a librdkafka producer,
   batched in C, outside Faust's per-message path.

Faust commits offsets after flushing the producer (at least once). Counts a crash
left unpublished are published again whenever a district's partition is recovered.
``create_app`` only wires; the decisions are in ``stream_processors.surveillance.state``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import ssl
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

import faust

from daas.errors import ConfigurationError
from daas.kafka import DeliveryReport, create_producer, msk_iam_token, produce
from daas.metrics import Telemetry, start_telemetry
from daas.settings import Settings
from stream_processors.cases import CaseMessage, split_district_key
from stream_processors.surveillance.detection import incidence_per_100k
from stream_processors.surveillance.state import DistrictState

__all__ = ["count_message", "create_app", "district_populations", "serve"]

log = logging.getLogger(__name__)


def district_populations() -> dict[str, int]:
    """District key -> population, from the reference geography."""
    from reference import load_geography

    from stream_processors.cases import district_key

    geo = load_geography()
    return {district_key(f.country_code, f.district): geo.district(f.district_id).population
            for f in geo.facilities.values()}


def _known_groups() -> set[str]:
    from reference import load_icd10

    return {entry.group for entry in load_icd10().values()}


def count_message(district: str, group: str, week: str, cases: int, population: int | None) -> tuple[bytes, bytes]:
    """Key and value of one weekly count on the counts topic (compacted: the last count per key wins)."""
    country_code, district_name = split_district_key(district)
    value = {"country_code": country_code, "district": district_name, "diagnosis_group": group, "epi_week": week,
             "cases": cases, "population": population, "incidence_per_100k": incidence_per_100k(cases, population)}
    return f"{district}|{group}|{week}".encode(), json.dumps(value).encode()


def _broker_credentials(settings: Settings) -> dict[str, Any]:
    """Faust (aiokafka) credentials matching ``daas.kafka.client_security``."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return {}
    if settings.kafka_auth != "aws_msk_iam":
        return {"broker_credentials": faust.SSLCredentials(ssl.create_default_context())}
    from aiokafka.abc import AbstractTokenProvider

    region = settings.require("kafka_aws_region")

    class _MskIamTokens(AbstractTokenProvider):
        async def token(self) -> str:
            return await asyncio.get_running_loop().run_in_executor(None, lambda: msk_iam_token(region)[0])

    return {"broker_credentials": faust.OAuthCredentials(oauth_cb=_MskIamTokens(),
                                                        ssl_context=ssl.create_default_context())}


def _faust_app(settings: Settings) -> faust.App:
    datadir = settings.runtime_dir.resolve() / "faust" / settings.surveillance_app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    web: dict[str, Any] = {"web_enabled": False}
    if settings.surveillance_web_port:
        web = {"web_enabled": True, "web_port": settings.surveillance_web_port, "web_bind": "127.0.0.1"}
    return faust.App(
        settings.surveillance_app_id,
        broker=f"kafka://{settings.kafka_bootstrap_servers}",
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_compression_type="lz4",
        broker_commit_interval=1.0,
        # A dead worker's districts move in seconds, not Faust's default minute.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        topic_partitions=settings.kafka_partitions,
        table_standby_replicas=0,
        topic_allow_declare=True,
        datadir=str(datadir),
        **_broker_credentials(settings),
        **web,
    )


class _Surveillance:
    """The agent's work on one message, with the reference data it needs."""

    def __init__(self, settings: Settings, table: Any, populations: Mapping[str, int],
                 diseases: Collection[str], alerts: Any, telemetry: Telemetry) -> None:
        self.horizon = settings.surveillance_horizon_weeks
        self.table = table
        self.populations = populations
        self.diseases = frozenset(diseases)
        self.alerts = alerts
        self.counts_topic = settings.topics.surveillance_counts
        # Created on first use: building the app connects to nothing.
        self._producer = functools.cache(lambda: create_producer(settings, **{"linger.ms": 50}))
        self.report = DeliveryReport()
        self.stats = {"messages": 0, "changes": 0, "repeated": 0, "late": 0, "alerts": 0, "malformed": 0}
        self._changed: set[tuple[str, str, str]] = set()  # (district, group, week) to publish
        self.telemetry = telemetry
        self._changes = telemetry.counter("daas_surveillance_case_changes_total",
                                          "Case changes received, by what became of them", ("outcome",))
        self._messages = telemetry.counter("daas_surveillance_messages_total", "Case messages handled")
        self._alerts = telemetry.counter("daas_surveillance_alerts_total", "Alerts raised", ("level",))
        self._published = telemetry.counter("daas_surveillance_counts_published_total", "Weekly counts published")
        self._districts = telemetry.gauge("daas_surveillance_districts", "Districts this worker holds")

    async def handle(self, key: bytes, value: bytes) -> None:
        try:
            message = CaseMessage.decode(key, value)
        except ValueError as exc:
            self.stats["malformed"] += 1
            log.error("skipping a malformed case message (key %r): %s", key[:80], exc)
            return
        state = DistrictState.from_value(message.district, self.table.get(message.district))
        applied = state.apply(message, self.horizon)
        population = self.populations.get(message.district)
        alerts = state.detect(applied.touched, horizon_weeks=self.horizon, population=population,
                              diseases=self.diseases)
        for alert in alerts:  # delivered before the table remembers it
            await (await self.alerts.send(key=alert.identity().encode(), value=json.dumps(alert.as_dict()).encode()))
        self.table[message.district] = state.to_value()
        self._changed.update((message.district, group, week) for group, week in applied.touched)
        for (group, week), cases in applied.swept:  # their final count, before the state forgets them
            self._changed.discard((message.district, group, week))
            self._publish(message.district, group, week, cases)
        applied_changes = len(message.changes) - applied.repeated - applied.late
        self.stats["messages"] += 1
        self.stats["changes"] += applied_changes
        self.stats["repeated"] += applied.repeated
        self.stats["late"] += applied.late
        self.stats["alerts"] += len(alerts)
        self._messages.inc()
        for outcome, n in (("applied", applied_changes), ("repeated", applied.repeated), ("late", applied.late)):
            if n:
                self._changes.labels(outcome).inc(n)
        for alert in alerts:
            self._alerts.labels(alert.level).inc()

    def publish_changed(self) -> int:
        """Publish the counts changed since the last call (of districts this worker still holds)."""
        self.telemetry.beat()
        self._districts.set(len(self.table))
        changed, self._changed = self._changed, set()
        states: dict[str, DistrictState] = {}
        for district, group, week in sorted(changed):
            if district not in states:
                value = self.table.get(district)
                if value is None:
                    continue  # moved to another worker, which publishes it on recovery
                states[district] = DistrictState.from_value(district, value)
            state = states[district]
            self._publish(district, group, week, state.counts.get((group, week), 0))
        self._producer().poll(0)
        if self.report.failed:
            log.error("%d count messages were not delivered (first: %s); they are sent again when their "
                      "district changes or is recovered", self.report.failed, self.report.first_error)
            self.report = DeliveryReport()
        return len(changed)

    def republish(self) -> None:
        """Publish every count held (after a recovery: a crash may have left some unsent)."""
        districts = counts = 0
        for district, value in list(self.table.items()):
            state = DistrictState.from_value(district, value)
            districts += 1
            for (group, week), cases in state.counts.items():
                self._publish(district, group, week, cases)
                counts += 1
        log.info("recovered: holding %d districts; published their %d weekly counts again", districts, counts)

    def _publish(self, district: str, group: str, week: str, cases: int) -> None:
        key, value = count_message(district, group, week, cases, self.populations.get(district))
        self._published.inc()
        produce(self._producer(), self.counts_topic, key, value, on_delivery=self.report)

    def close(self) -> None:
        self.publish_changed()
        self._producer().flush(30)

    def current(self, epi_week: str) -> dict[str, Any]:
        counts, alerts = [], []
        for district, value in list(self.table.items()):
            state = DistrictState.from_value(district, value)
            counts += [{"district": district, "diagnosis_group": g, "cases": n}
                       for (g, w), n in state.counts.items() if w == epi_week]
            alerts += [a for a in state.alerts.values() if a["epi_week"] == epi_week]
        return {"epi_week": epi_week, "counts": counts, "alerts": alerts, "stats": self.stats}


def create_app(settings: Settings, telemetry: Telemetry | None = None) -> faust.App:
    """The Faust app for ``settings``; run it with ``faust.Worker(app).execute_from_commandline()``."""
    unknown = set(settings.surveillance_diseases) - _known_groups()
    if unknown:
        raise ConfigurationError(f"DAAS_SURVEILLANCE_DISEASES names unknown diagnosis groups {sorted(unknown)}; "
                                 f"the groups are {sorted(_known_groups())}")
    app = _faust_app(settings)
    topics = settings.topics
    cases = app.topic(topics.surveillance_cases, key_type=bytes, value_type=bytes)
    alerts = app.topic(topics.surveillance_alerts, key_type=bytes, value_type=bytes)
    table = app.Table("districts", default=lambda: None, partitions=settings.kafka_partitions,
                      schema=faust.Schema(key_type=str, key_serializer="raw", value_serializer="json"))
    surveillance = _Surveillance(settings, table, district_populations(), settings.surveillance_diseases, alerts,
                                 telemetry or Telemetry("surveillance"))

    async def republish() -> None:
        surveillance.republish()

    table.on_recover(republish)

    @app.on_before_shutdown.connect
    async def flush_counts(app: faust.App, **kwargs: Any) -> None:
        surveillance.close()

    @app.agent(cases, name="surveil")
    async def surveil(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await surveillance.handle(event.key, event.value)

    @app.timer(interval=1.0)
    async def publish_counts() -> None:
        surveillance.publish_changed()

    @app.page("/surveillance/current")
    async def current(web: Any, request: Any) -> Any:
        """This worker's districts: the current ISO week's counts and the alerts raised for it."""
        iso = datetime.now(tz=UTC).isocalendar()
        return web.json(surveillance.current(f"{iso.year}W{iso.week:02d}"))

    return app


def serve(settings: Settings) -> None:
    """Run one surveillance worker until SIGTERM or SIGINT (Faust handles both)."""
    telemetry = start_telemetry("surveillance", settings.metrics_port, settings.metrics_host)
    worker = faust.Worker(create_app(settings, telemetry), quiet=True, override_logging=False)  # our logging stays
    worker.execute_from_commandline()
