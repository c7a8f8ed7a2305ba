"""The peer processor: Quix Streams doing the processor's validate-and-route, one message at a time.

Run by the suite (``benchmarks.peers``) in the peer environment, ``.venvs/bench-peer``
(Quix's pins conflict with the project's), with the repository on ``PYTHONPATH`` and
the same ``DAAS_*`` settings as a processor worker. Each message goes through the
project's ``Processor.process`` — decode, validate/normalise/de-identify, encode,
route: the worker's per-record work without its de-duplication state and case
messages — and each output is produced by Quix to its clean route topic, each dead
letter (original bytes, reasons in headers) to the dead-letter topic.

Usage: ``python quix_processor.py <consumer group>``; runs until SIGTERM.
"""

from __future__ import annotations

import sys
from typing import Any

from quixstreams import Application, message_context
from quixstreams.models.serializers import SerializationContext, Serializer

from daas.settings import load_settings
from stream_processors.pipeline import InputMessage, Output
from stream_processors.worker import build_processor


class _OutputValue(Serializer):
    """An ``Output``'s value is already Avro bytes."""

    def __call__(self, value: Output, ctx: SerializationContext) -> bytes:
        return value.value


def main(group: str) -> None:
    settings = load_settings()
    topics = settings.topics
    processor = build_processor(settings)
    app = Application(broker_address=settings.kafka_bootstrap_servers, consumer_group=group,
                      auto_offset_reset="earliest", loglevel="WARNING")
    raw = app.topic(topics.raw_simuhealth, key_deserializer="bytes", value_deserializer="bytes")
    outputs = {name: app.topic(name, key_serializer="bytes", value_serializer=_OutputValue())
               for name in (topics.clean_lake, topics.clean_ops, topics.dlq)}

    def route(value: bytes, key: bytes | None, timestamp: int, headers: Any) -> list[Output]:
        ctx = message_context()
        message = InputMessage(ctx.topic, ctx.partition, ctx.offset, timestamp, key, value, headers or ())
        result = processor.process([message])[0]
        if result.dead is not None:
            dead = result.dead
            return [Output(topics.dlq, dead.key or b"", dead.value or b"", dead.headers())]
        return result.outputs

    sdf = app.dataframe(raw).apply(route, expand=True, metadata=True)
    sdf = sdf.set_headers(lambda out, key, timestamp, headers: out.headers)
    sdf.to_topic(lambda out, key, timestamp, headers: outputs[out.topic], key=lambda out: out.key)
    app.run()


if __name__ == "__main__":
    main(sys.argv[1])
