"""The processor's work on one batch, independent of Faust so it can be tested and measured.

The Faust agent (``stream_processors.app``) hands each batch of raw messages to
``Processor.process`` and sends what comes back: clean records to their routes,
everything else to the dead-letter topic with its original bytes and the reasons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from daas.dead_letter import DeadLetter, Reason
from daas.errors import DecodeError, SchemaError
from schemas import CLEAN_ENCOUNTER, AvroCodec
from stream_processors import rules
from stream_processors.transform import Context, Rejected, to_clean

__all__ = ["STAGE", "InputMessage", "Output", "Processor", "VERSION"]

STAGE = "processor"
VERSION = "0.1.0"
_PASSED_HEADERS = ("trace_id", "traceparent")


@dataclass(frozen=True)
class InputMessage:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()


@dataclass(frozen=True)
class Output:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


class Processor:
    """Decode → validate/normalise/de-identify → encode → route, for a batch."""

    def __init__(self, *, codec: AvroCodec, routes: Mapping[str, Sequence[str]],
                 context: Callable[[], Context]) -> None:
        self._codec = codec
        self._routes = routes  # source name -> output topics
        self._context = context

    def process(self, batch: Sequence[InputMessage]) -> tuple[list[Output], list[DeadLetter]]:
        ctx = self._context()
        outputs: list[Output] = []
        dead: list[DeadLetter] = []
        clean_records: list[tuple[InputMessage, dict]] = []
        for msg in batch:
            try:
                decoded = self._codec.decode(msg.value)
            except DecodeError as exc:
                dead.append(self._dead(msg, [Reason(rules.DECODE_ERROR, str(exc))]))
                continue
            ingested = datetime.fromtimestamp(msg.timestamp_ms / 1000, tz=UTC)
            result = to_clean(decoded.schema.name, decoded.record, ingested_at=ingested, ctx=ctx)
            if isinstance(result, Rejected):
                dead.append(self._dead(msg, result.reasons))
            else:
                clean_records.append((msg, result))
        for msg, record in clean_records:
            try:
                value = self._codec.encode(CLEAN_ENCOUNTER, record)
            except SchemaError as exc:
                dead.append(self._dead(msg, [Reason(rules.INVALID_VALUE, str(exc))]))
                continue
            key = str(record["record_id"]).encode()
            headers = [(k, v) for k, v in msg.headers if k in _PASSED_HEADERS]
            headers.append(("source", record["source"].encode()))
            for topic in self._routes.get(record["source"], ()):
                outputs.append(Output(topic, key, value, headers))
        return outputs, dead

    @staticmethod
    def _dead(msg: InputMessage, reasons: list[Reason]) -> DeadLetter:
        return DeadLetter(
            key=msg.key, value=msg.value, reasons=reasons, stage=STAGE, stage_version=VERSION,
            source_topic=msg.topic, source_partition=msg.partition, source_offset=msg.offset,
            source_timestamp_ms=msg.timestamp_ms, original_headers=list(msg.headers),
        )
