"""When a partition's buffered records become a write, and how much may be buffered.

A sink declares its :class:`FlushPolicy` (the S3 sink rotates files on records, bytes
and record time and flushes idle partitions; the Postgres sink writes each polled
batch at once). The runner enforces one :class:`Budget` across all partitions so
memory stays bounded however many partitions are assigned.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Budget", "FlushPolicy"]


@dataclass(frozen=True)
class FlushPolicy:
    """Rotation rules for one partition's buffer.

    A write ("file") closes before the record that would exceed ``max_records`` or
    ``max_bytes``, or whose Kafka timestamp falls at or after the end of the
    ``record_time_interval_ms`` window the file's first record opened. These three are
    functions of the records alone, so the same offsets give the same files on a
    replay. ``idle_seconds`` flushes the open file when no record arrived for that
    long (0: flush after every poll).
    """

    max_records: int = 100_000
    max_bytes: int = 64 * 2**20
    record_time_interval_ms: int | None = 10 * 60 * 1000
    idle_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.max_records < 1 or self.max_bytes < 1:
            raise ValueError(f"max_records and max_bytes must be positive, got {self.max_records}, {self.max_bytes}")
        if self.record_time_interval_ms is not None and self.record_time_interval_ms < 1:
            raise ValueError(f"record_time_interval_ms must be positive or None, got {self.record_time_interval_ms}")
        if self.idle_seconds < 0:
            raise ValueError(f"idle_seconds must not be negative, got {self.idle_seconds}")


@dataclass(frozen=True)
class Budget:
    """Upper bound on what all partitions together may buffer.

    Over budget, the runner writes the largest buffer early and pauses every partition
    until buffers drain below ``resume_fraction`` of the budget; buffers can exceed the
    budget by at most the one consumed batch that crossed it.
    """

    max_bytes: int = 256 * 2**20
    max_records: int = 1_000_000
    resume_fraction: float = 0.8

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_records < 1:
            raise ValueError(f"budget must be positive, got {self.max_bytes} bytes, {self.max_records} records")
        if not 0 < self.resume_fraction <= 1:
            raise ValueError(f"resume_fraction must be in (0, 1], got {self.resume_fraction}")
