"""The contract a destination implements; the runner (``sinks.base.runner``) calls it.

A sink only writes. It never consumes, commits, retries or sleeps: it makes a
:class:`~sinks.base.batch.Batch` durable and says which records the destination
refused one by one, or raises — ``daas.errors.Retryable`` when the destination is
away (the runner pauses the partition, backs off and hands the same offsets again),
anything else when the sink itself cannot go on (the runner stops).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sinks.base.batch import Batch, Rejection
from sinks.base.policy import FlushPolicy
from sinks.base.ranges import KnownRanges

__all__ = ["PartitionPlan", "PartitionStart", "Sink", "ValueDecoder"]

# Value bytes (None for a tombstone) to the dict a sink writes.
ValueDecoder = Callable[[bytes | None], dict[str, Any]]


@dataclass(frozen=True)
class PartitionStart:
    """A partition the runner was just given, with where its consumer group stands."""

    topic: str
    partition: int
    committed: int | None
    low: int
    high: int

    @property
    def position(self) -> int:
        """Where consumption starts: the committed offset, or the earliest one when the
        group has none or it is out of range (``auto.offset.reset=earliest``)."""
        if self.committed is not None and self.low <= self.committed <= self.high:
            return self.committed
        return self.low


@dataclass(frozen=True)
class PartitionPlan:
    """A sink's answer to a new partition: where to start and which cuts to keep."""

    seek_to: int | None = None
    ranges: KnownRanges = field(default_factory=KnownRanges)


class Sink(ABC):
    """A destination. Subclasses write; :class:`sinks.base.SinkRunner` does the rest."""

    name: str
    policy: FlushPolicy = FlushPolicy()
    # Columnar sinks read Avro logical types as primitives and convert in bulk.
    logical_types: bool = True

    def value_decoder(self) -> ValueDecoder | None:
        """How the runner decodes this sink's values: None (the default) for the Avro codec.
        A sink whose topic carries something else returns its own decoder, which raises
        ``daas.errors.DecodeError`` for a value it cannot read (the runner dead-letters it);
        one that reads only headers returns a decoder that never looks at the bytes."""
        return None

    def prepare(self, start: PartitionStart) -> PartitionPlan:
        """Called once per newly assigned partition before anything is written to it;
        may raise ``Retryable`` (the runner keeps the partition paused and asks again)."""
        return PartitionPlan()

    def release(self, topic: str, partition: int) -> None:  # noqa: B027 - optional hook
        """The partition was revoked or lost: forget per-partition state."""

    @abstractmethod
    def write(self, batch: Batch) -> list[Rejection]:
        """Make ``batch`` durable, idempotently (the same offsets may come again).

        Return the records the destination refused individually, with the reason;
        the runner dead-letters them and ``batch.undecodable``.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
