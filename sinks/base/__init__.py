"""The sink contract and the loop that drives every sink.

Sinks implement :class:`Sink` (they only write); :class:`SinkRunner` owns consuming,
buffering, decoding, dead letters, pausing and committing, in the order documented in
``sinks.base.runner``.
"""

from daas.backoff import Backoff
from sinks.base.batch import Batch, Record, Rejection
from sinks.base.contract import PartitionPlan, PartitionStart, Sink
from sinks.base.policy import Budget, FlushPolicy
from sinks.base.ranges import KnownRanges
from sinks.base.runner import RunStats, SinkRunner

__all__ = [
    "Backoff",
    "Batch",
    "Budget",
    "FlushPolicy",
    "KnownRanges",
    "PartitionPlan",
    "PartitionStart",
    "Record",
    "Rejection",
    "RunStats",
    "Sink",
    "SinkRunner",
]
