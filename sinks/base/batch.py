"""What a sink is handed: one partition's contiguous records, decoded in slices.

The runner cuts a partition's buffer into a :class:`Batch` covering the offsets
``[first_offset, next_offset)``. Values stay wire bytes until the sink iterates, and
are then decoded a slice at a time, so a large batch never exists as Python dicts
all at once. Values that cannot be decoded are collected in ``undecodable`` (with
their reason) and never reach the sink; the runner dead-letters them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from daas.dead_letter import DECODE_ERROR, UNKNOWN_SCHEMA, Reason
from daas.errors import DecodeError
from schemas.codec import UnknownSchemaError

__all__ = ["Batch", "Message", "Record", "Rejection"]

_SLICE = 8192


class Message(Protocol):
    """The part of ``confluent_kafka.Message`` a batch reads."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def timestamp(self) -> tuple[int, int]: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> list[tuple[str, bytes]] | None: ...


@dataclass(frozen=True, slots=True)
class Record:
    """One decoded record with where it came from (its bytes stay for dead letters)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    data: dict[str, Any]


Rejection = tuple[Record, Reason]


class Batch:
    """Offsets ``[first_offset, next_offset)`` of one topic partition.

    Built by the runner from buffered messages and a decoder, or by tests and tools
    from records that are already decoded (:meth:`of`).
    """

    def __init__(self, topic: str, partition: int, *, first_offset: int, next_offset: int,
                 messages: Sequence[Message] = (), decode: Callable[[bytes | None], dict[str, Any]] | None = None,
                 records: Sequence[Record] | None = None) -> None:
        if next_offset <= first_offset:
            raise ValueError(f"empty offset range [{first_offset}, {next_offset})")
        if (records is None) == (decode is None):
            raise ValueError("a batch needs either messages with a decoder or decoded records")
        self.topic = topic
        self.partition = partition
        self.first_offset = first_offset
        self.next_offset = next_offset
        self._messages = messages
        self._decode = decode
        self._records = list(records) if records is not None else None
        self.undecodable: list[Rejection] = []

    @classmethod
    def of(cls, records: Sequence[Record]) -> Batch:
        """A batch of decoded records of one partition (offsets taken from them)."""
        if not records:
            raise ValueError("a batch of records needs at least one record")
        tps = {(r.topic, r.partition) for r in records}
        if len(tps) != 1:
            raise ValueError(f"a batch holds one topic partition, got {sorted(tps)}")
        offsets = [r.offset for r in records]
        return cls(records[0].topic, records[0].partition, first_offset=min(offsets),
                   next_offset=max(offsets) + 1, records=records)

    def last_timestamp_ms(self) -> int | None:
        """The Kafka timestamp of the batch's last record, for latency metrics."""
        if self._records is not None:
            return self._records[-1].timestamp_ms if self._records else None
        return self._messages[-1].timestamp()[1] if self._messages else None

    def __len__(self) -> int:
        """Messages in the batch, decodable or not."""
        return len(self._records) if self._records is not None else len(self._messages)

    def decoded(self, size: int = _SLICE) -> Iterator[tuple[list[Any], list[dict[str, Any]]]]:
        """``(sources, data)`` slices of decodable values, without building a
        :class:`Record` per value (the hot path of columnar sinks); ``record(source,
        data)`` builds one when needed, e.g. to reject it. Refills ``undecodable``."""
        self.undecodable = []
        if self._records is not None:
            for start in range(0, len(self._records), size):
                chunk = self._records[start:start + size]
                yield chunk, [r.data for r in chunk]
            return
        decode = self._decode
        assert decode is not None
        for start in range(0, len(self._messages), size):
            sources: list[Any] = []
            data: list[dict[str, Any]] = []
            for msg in self._messages[start:start + size]:
                try:
                    data.append(decode(msg.value()))
                except DecodeError as exc:
                    code = UNKNOWN_SCHEMA if isinstance(exc, UnknownSchemaError) else DECODE_ERROR
                    self.undecodable.append((self.record(msg, {}), Reason(code, str(exc))))
                    continue
                sources.append(msg)
            yield sources, data

    def record(self, source: Any, data: dict[str, Any]) -> Record:
        """The :class:`Record` of one value ``decoded`` yielded."""
        if isinstance(source, Record):
            return source
        return Record(self.topic, self.partition, source.offset(), source.timestamp()[1], source.key(),
                      source.value(), source.headers() or [], data)

    def slices(self, size: int = _SLICE) -> Iterator[list[Record]]:
        """Decoded records, ``size`` at a time; refills ``undecodable`` on each pass."""
        for sources, data in self.decoded(size):
            yield [self.record(src, d) for src, d in zip(sources, data, strict=True)]

    def __iter__(self) -> Iterator[Record]:
        for chunk in self.slices():
            yield from chunk

    def records(self) -> list[Record]:
        """Every decodable record at once (for sinks whose batches are small)."""
        return list(self)
