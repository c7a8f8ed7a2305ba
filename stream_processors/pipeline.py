"""The processor's work on one batch, independent of Kafka so it can be tested and measured.

The worker (``stream_processors.worker``) hands each batch of raw messages to
``Processor.process``: decode, validate/normalise/de-identify (``to_clean``), encode.
What comes back — each clean record with its routed outputs, or a dead letter with
the original bytes and the reasons — is what ``plan_batch`` decides on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from daas.dead_letter import DeadLetter, Reason, message_size
from daas.errors import DecodeError, SchemaError
from schemas import CLEAN_ENCOUNTER, AvroCodec
from schemas.codec import UnknownSchemaError
from stream_processors import rules
from stream_processors.transform import Context, Rejected, to_clean

__all__ = ["STAGE", "InputMessage", "Output", "Processor", "Result"]

STAGE = "processor"
_PASSED_HEADERS = ("trace_id", "traceparent")


class InputMessage(NamedTuple):
    """One raw message as the worker consumed it (a tuple: made once per record on the hot path)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()


class Output(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


class Result(NamedTuple):
    """What became of one input message: its outputs, or its dead letter."""

    outputs: list[Output]
    dead: DeadLetter | None = None
    record: dict | None = None  # the clean record, for de-duplication and surveillance


class Processor:
    """Decode → validate/normalise/de-identify → encode → route, for a batch.

    ``record_types`` names the record type each input topic carries, so that a value
    written with an unknown schema version is dead-lettered naming its type; an
    output larger than ``max_message_bytes`` is dead-lettered as ``too_large``.
    """

    def __init__(self, *, codec: AvroCodec, routes: Mapping[str, Sequence[str]],
                 context: Callable[[], Context], record_types: Mapping[str, str] | None = None,
                 max_message_bytes: int = 1_000_000) -> None:
        self._codec = codec
        self._routes = routes  # source name -> output topics
        self._context = context
        self._record_types = record_types or {}
        self._max_message_bytes = max_message_bytes

    def process(self, batch: Sequence[InputMessage]) -> list[Result]:
        """One result per input message, in order. Never raises for bad input."""
        ctx = self._context()
        results: list[Result] = []
        limit = self._max_message_bytes
        for msg in batch:
            try:
                decoded = self._codec.decode(msg.value)
            except UnknownSchemaError as exc:
                expected = self._record_types.get(msg.topic, "the topic's record type")
                results.append(Result([], self._dead(msg, [Reason(rules.UNKNOWN_SCHEMA, f"{expected}: {exc}")])))
                continue
            except DecodeError as exc:
                results.append(Result([], self._dead(msg, [Reason(rules.DECODE_ERROR, str(exc))])))
                continue
            expected = self._record_types.get(msg.topic)
            if expected is not None and decoded.schema.name != expected:
                results.append(Result([], self._dead(msg, [Reason(
                    rules.UNSUPPORTED_RECORD, f"a {decoded.schema.full_name} record on {msg.topic}, which carries "
                                              f"{expected} records only")])))
                continue
            try:
                # The Kafka timestamp as epoch milliseconds, as the clean schema stores it.
                record = to_clean(decoded.schema.name, decoded.record, ingested_at=msg.timestamp_ms, ctx=ctx)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                # A record shape no rule anticipated: dead-letter it rather than stop the worker.
                record = Rejected([Reason(rules.INVALID_VALUE, f"unexpected record shape: {type(exc).__name__}: {exc}")])
            if isinstance(record, Rejected):
                results.append(Result([], self._dead(msg, record.reasons)))
                continue
            try:
                value = self._codec.encode(CLEAN_ENCOUNTER, record)
            except SchemaError as exc:
                results.append(Result([], self._dead(msg, [Reason(rules.INVALID_VALUE, str(exc))])))
                continue
            key = str(record["record_id"]).encode()
            headers = [(k, v) for k, v in msg.headers if k in _PASSED_HEADERS]
            headers.append(("source", record["source"].encode()))
            if message_size(key, value, headers) > limit:
                results.append(Result([], self._dead(msg, [Reason(
                    rules.TOO_LARGE, f"the clean record would be {message_size(key, value, headers)} bytes, over "
                                     f"the clean topics' limit of {limit}")])))
                continue
            outputs = [Output(topic, key, value, headers) for topic in self._routes.get(record["source"], ())]
            results.append(Result(outputs, None, record))
        return results

    @staticmethod
    def _dead(msg: InputMessage, reasons: list[Reason]) -> DeadLetter:
        return DeadLetter.of(msg, reasons, stage=STAGE)
