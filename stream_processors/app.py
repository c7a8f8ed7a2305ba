"""The Faust worker: raw topics in; clean routes, dead letters out.

``create_app`` wires the topics from the settings to ``pipeline.Processor``; no
settings are read at import. Each batch's outputs are awaited until Kafka has
acknowledged them before the batch's input events are acknowledged, and Faust
flushes its producer before committing offsets, so an input offset is never
committed ahead of its outputs (DESIGN.md §5). With ``exactly_once`` the outputs and
the offsets commit in one Kafka transaction instead.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import faust

from daas.settings import Settings
from schemas import AvroCodec
from stream_processors.pipeline import InputMessage, Processor
from stream_processors.reference_view import load_reference
from stream_processors.transform import Context

__all__ = ["APP_ID", "BATCH_SIZE", "create_app"]

APP_ID = "daas-processor"
BATCH_SIZE = 1000


def _headers(message: Any) -> list[tuple[str, bytes]]:
    headers = message.headers or []
    items = headers.items() if isinstance(headers, dict) else headers
    return [(k, v if isinstance(v, bytes) else str(v).encode()) for k, v in items]


def create_app(settings: Settings, *, app_id: str = APP_ID) -> faust.App:
    """A Faust app for ``settings``; run it with ``faust.Worker(app).execute_from_commandline()``."""
    topics = settings.topics
    secret = settings.require("patient_key_secret").encode()
    facilities, icd10 = load_reference()
    datadir = settings.runtime_dir.resolve() / "faust" / app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
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
        broker_commit_interval=1.0,
        web_enabled=False,
        topic_partitions=settings.kafka_partitions,
        datadir=str(datadir),
    )
    route_topics = {"lake": topics.clean_lake, "ops": topics.clean_ops}
    processor = Processor(
        codec=AvroCodec.from_settings(settings.schema_registry_url),
        routes={source: [route_topics[r] for r in names] for source, names in settings.routes.items()},
        context=lambda: Context(facilities, icd10, secret, datetime.now(tz=UTC)),
    )
    raw = app.topic(topics.raw_simuhealth, topics.raw_gsheet, key_type=bytes, value_type=bytes)
    out = {name: app.topic(name, key_type=bytes, value_type=bytes)
           for name in (topics.clean_lake, topics.clean_ops, topics.dlq)}

    @app.agent(raw, name="process")
    async def process(stream: faust.StreamT) -> None:
        async for events in stream.take_events(BATCH_SIZE, within=0.2):
            batch = [
                InputMessage(e.message.topic, e.message.partition, e.message.offset,
                             int(e.message.timestamp * 1000), e.message.key, e.message.value,
                             _headers(e.message))
                for e in events
            ]
            outputs, dead = processor.process(batch)
            pending = [await out[o.topic].send(key=o.key, value=o.value, headers=o.headers) for o in outputs]
            pending += [await out[topics.dlq].send(key=d.key, value=d.value, headers=d.headers()) for d in dead]
            await asyncio.gather(*pending)

    return app
