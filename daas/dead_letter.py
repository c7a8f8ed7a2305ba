"""The dead-letter contract shared by the processor and the sinks (DESIGN.md §3, §5).

This module owns it whole: every reason code, and the one way a dead letter is
made. A dead letter is the original record, byte for byte (key and value, and its
original headers), sent to the dead-letter topic with ``dlq.*`` headers that say
why and where it came from. The headers are documented in schemas/README.md;
``daas dlq`` and the operators' dashboards rely on their names.

A record too large to be dead-lettered whole (its bytes plus the headers would not
fit the topic's limit) keeps its coordinates, its size, its SHA-256 and a bounded
prefix instead, with the reason ``too_large``: the original stays at its source
coordinates while the source topic retains it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from typing import Protocol

__all__ = [
    "CODES",
    "HEADER_PREFIX",
    "PIPELINE_VERSION",
    "DeadLetter",
    "Provenance",
    "Reason",
    "Source",
    "message_size",
    "parse_headers",
]

HEADER_PREFIX = "dlq."

# -- reason codes (stable: filters, dashboards and re-drives select on them) ---------------
# Reading the bytes
DECODE_ERROR = "decode_error"  # not Avro in a framing this reader knows, or a corrupt body
UNKNOWN_SCHEMA = "unknown_schema"  # Avro, written with a schema version this reader was not given
UNSUPPORTED_RECORD = "unsupported_record"  # a record type this stage does not read
TOO_LARGE = "too_large"  # bigger than an output topic accepts
# The processor's rules (stream_processors/rules.py)
REQUIRED_MISSING = "required_missing"
INVALID_VALUE = "invalid_value"
INVALID_SOURCE_KEY = "invalid_source_key"
DATE_IN_FUTURE = "encounter_date_in_future"
DATE_TOO_OLD = "encounter_date_too_old"
AGE_OUT_OF_RANGE = "age_out_of_range"
BIRTH_DATE_AFTER_ENCOUNTER = "birth_date_after_encounter"
SEX_NOT_ALLOWED = "sex_not_allowed"
ICD10_UNKNOWN = "icd10_unknown"
DIAGNOSIS_IMPLAUSIBLE = "diagnosis_implausible"
FACILITY_UNKNOWN = "facility_unknown"
GEOGRAPHY_MISMATCH = "geography_mismatch"
# The sinks' destinations
REJECTED_BY_POSTGRES = "rejected_by_postgres"
UNCONVERTIBLE_VALUE = "unconvertible_value"

CODES = (DECODE_ERROR, UNKNOWN_SCHEMA, UNSUPPORTED_RECORD, TOO_LARGE, REQUIRED_MISSING, INVALID_VALUE,
         INVALID_SOURCE_KEY, DATE_IN_FUTURE, DATE_TOO_OLD, AGE_OUT_OF_RANGE, BIRTH_DATE_AFTER_ENCOUNTER,
         SEX_NOT_ALLOWED, ICD10_UNKNOWN, DIAGNOSIS_IMPLAUSIBLE, FACILITY_UNKNOWN, GEOGRAPHY_MISMATCH,
         REJECTED_BY_POSTGRES, UNCONVERTIBLE_VALUE)


def _version() -> str:
    try:
        return metadata.version("daas-health-pipeline")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"


# Every stage stamps its dead letters with the pipeline's version: they ship together.
PIPELINE_VERSION = _version()
# What a too-large record keeps of its value.
PREFIX_BYTES = 1024
# Room kept for the record's framing in a produce request (Kafka record and batch overhead).
_FRAMING = 512


def message_size(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]] = ()) -> int:
    """The bytes a record takes against a topic's ``max.message.bytes`` (with room for framing)."""
    return (len(key or b"") + len(value or b"") + sum(len(k) + len(v) for k, v in headers) + _FRAMING)


@dataclass(frozen=True)
class Reason:
    """One machine-readable reason: a stable code, the field concerned, a readable message."""

    code: str
    message: str
    field: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "field": self.field, "message": self.message}


class Source(Protocol):
    """Where a record came from and its bytes (the processor's input message, a sink's record)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class DeadLetter:
    """A record that a stage could not handle, with where it came from and why."""

    key: bytes | None
    value: bytes | None
    reasons: Sequence[Reason]
    stage: str  # processor, s3-sink, postgres-sink
    source_topic: str
    source_partition: int
    source_offset: int
    source_timestamp_ms: int | None = None
    original_headers: Sequence[tuple[str, bytes]] = ()
    original_size: int | None = None  # set when only a prefix of the value is kept
    original_sha256: str | None = None

    @classmethod
    def of(cls, source: Source, reasons: Sequence[Reason], *, stage: str) -> DeadLetter:
        """The dead letter of ``source``, rejected by ``stage`` for ``reasons``."""
        return cls(key=source.key, value=source.value, reasons=list(reasons), stage=stage,
                   source_topic=source.topic, source_partition=source.partition, source_offset=source.offset,
                   source_timestamp_ms=source.timestamp_ms, original_headers=list(source.headers))

    def headers(self, now_ms: int | None = None) -> list[tuple[str, bytes]]:
        """Original headers first, then the dlq.* headers (strings, UTF-8)."""
        ours = {
            "reason": self.reasons[0].code if self.reasons else "unknown",
            "reasons": json.dumps([r.as_dict() for r in self.reasons], separators=(",", ":")),
            "stage": self.stage,
            "stage.version": PIPELINE_VERSION,
            "source.topic": self.source_topic,
            "source.partition": str(self.source_partition),
            "source.offset": str(self.source_offset),
            "source.timestamp": "" if self.source_timestamp_ms is None else str(self.source_timestamp_ms),
            "failed_at": str(now_ms if now_ms is not None else int(time.time() * 1000)),
        }
        if self.original_size is not None:
            ours.update({"original.size": str(self.original_size), "original.sha256": self.original_sha256 or "",
                         "truncated": "true"})
        kept = [(k, v) for k, v in self.original_headers if not k.startswith(HEADER_PREFIX)]
        return kept + [(HEADER_PREFIX + k, v.encode()) for k, v in ours.items()]

    def fitting(self, limit: int) -> DeadLetter:
        """This dead letter, or — if it would not fit ``limit`` bytes — its summary: the reason
        ``too_large`` first, a prefix of the value, its size and digest, a bounded key."""
        if message_size(self.key, self.value, self.headers()) <= limit:
            return self
        value = self.value or b""
        too_large = Reason(TOO_LARGE, f"the record ({message_size(self.key, value, self.original_headers)} bytes "
                                      f"with its headers) does not fit the dead-letter topic's limit of {limit} "
                                      f"bytes; kept its first {PREFIX_BYTES} bytes, size and SHA-256")
        reasons = [too_large, *(replace(r, message=r.message[:500]) for r in self.reasons[:10])]
        return replace(self, key=(self.key or b"")[:PREFIX_BYTES] or None, value=value[:PREFIX_BYTES],
                       reasons=reasons, original_headers=[(k, v[:PREFIX_BYTES]) for k, v in self.original_headers[:20]],
                       original_size=len(value), original_sha256=hashlib.sha256(value).hexdigest())


@dataclass(frozen=True)
class Provenance:
    """What the ``dlq.*`` headers of a dead-letter message say (``parse_headers``)."""

    reason: str
    reasons: list[dict[str, str | None]]  # code, field, message — in the order the stage found them
    stage: str
    stage_version: str | None
    source_topic: str
    source_partition: int
    source_offset: int
    source_timestamp_ms: int | None
    failed_at_ms: int | None
    truncated: bool
    original_size: int | None


def parse_headers(headers: Sequence[tuple[str, bytes | None]]) -> Provenance | None:
    """The provenance in a message's headers, or None when they are not a dead letter's
    (a message not written by a stage of this pipeline, or headers that do not parse)."""
    ours = {k[len(HEADER_PREFIX):]: v.decode(errors="replace").replace("\x00", "")
            for k, v in headers if k.startswith(HEADER_PREFIX) and v is not None}
    if not ours.get("reason") or not ours.get("source.topic"):
        return None
    try:
        listed = json.loads(ours.get("reasons") or "[]")
        reasons = [{"code": str(r["code"]), "field": None if r.get("field") is None else str(r["field"]),
                    "message": str(r.get("message") or "")}
                   for r in listed if isinstance(r, dict) and r.get("code")] if isinstance(listed, list) else []

        def number(name: str) -> int | None:
            return int(ours[name]) if ours.get(name) else None

        return Provenance(
            reason=ours["reason"], reasons=reasons or [{"code": ours["reason"], "field": None, "message": ""}],
            stage=ours.get("stage") or "unknown", stage_version=ours.get("stage.version") or None,
            source_topic=ours["source.topic"], source_partition=int(ours.get("source.partition") or -1),
            source_offset=int(ours.get("source.offset") or -1), source_timestamp_ms=number("source.timestamp"),
            failed_at_ms=number("failed_at"), truncated=ours.get("truncated") == "true",
            original_size=number("original.size"))
    except ValueError:
        return None
