"""The dead-letter contract shared by processors and sinks (DESIGN.md §3, §5).

A dead letter is the original record, byte for byte (key and value, and its original
headers), sent to the dead-letter topic with headers that say why. The headers are
documented in schemas/README.md; consumers of the topic rely on their names.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["HEADER_PREFIX", "DeadLetter", "Reason"]

HEADER_PREFIX = "dlq."


@dataclass(frozen=True)
class Reason:
    """One machine-readable reason: a stable code, the field concerned, a readable message."""

    code: str
    message: str
    field: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class DeadLetter:
    """A record that a stage could not handle, with where it came from and why."""

    key: bytes | None
    value: bytes | None
    reasons: Sequence[Reason]
    stage: str
    stage_version: str
    source_topic: str
    source_partition: int
    source_offset: int
    source_timestamp_ms: int | None = None
    original_headers: Sequence[tuple[str, bytes]] = ()

    def headers(self, now_ms: int | None = None) -> list[tuple[str, bytes]]:
        """Original headers first, then the dlq.* headers (strings, UTF-8)."""
        ours = {
            "reason": self.reasons[0].code if self.reasons else "unknown",
            "reasons": json.dumps([r.as_dict() for r in self.reasons], separators=(",", ":")),
            "stage": self.stage,
            "stage.version": self.stage_version,
            "source.topic": self.source_topic,
            "source.partition": str(self.source_partition),
            "source.offset": str(self.source_offset),
            "source.timestamp": "" if self.source_timestamp_ms is None else str(self.source_timestamp_ms),
            "failed_at": str(now_ms if now_ms is not None else int(time.time() * 1000)),
        }
        kept = [(k, v) for k, v in self.original_headers if not k.startswith(HEADER_PREFIX)]
        return kept + [(HEADER_PREFIX + k, v.encode()) for k, v in ours.items()]
