"""Deliberately broken records, for demos and drills: the dead-letter path must be seen to work.

``with_faults`` passes a SimuHealth stream through and breaks a fixed share of it,
deterministically by position, so whoever replays the same stream (the demo, to
reconcile what it produced) knows exactly which records were broken and how: an
ICD-10 code nobody ships, an encounter a year in the future, or bytes that are not
Avro at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any, NamedTuple

from daas import dead_letter
from daas.errors import ConfigurationError

__all__ = ["Produced", "with_faults"]

# Each fault is named by the reason the processor dead-letters it with.
FAULTS = (dead_letter.ICD10_UNKNOWN, dead_letter.DATE_IN_FUTURE, dead_letter.DECODE_ERROR)


class Produced(NamedTuple):
    """One record to send: its key, and the record or (for ``decode_error``) raw bytes."""

    key: str
    record: dict[str, Any] | None
    raw: bytes | None
    fault: str | None  # the reason it is expected to be dead-lettered with, or None


def with_faults(records: Iterable[dict[str, Any]], share: float) -> Iterator[Produced]:
    """Every record, ``share`` of them broken (evenly spread, the same ones for the same stream)."""
    if not 0 <= share <= 0.5:
        raise ConfigurationError(f"the share of deliberately broken records is between 0 and 0.5, not {share}")
    every = round(1 / share) if share else 0
    for n, record in enumerate(records):
        if not every or n % every != every // 2:
            yield Produced(record["encounter_id"], record, None, None)
            continue
        fault = FAULTS[(n // every) % len(FAULTS)]
        if fault == dead_letter.ICD10_UNKNOWN:
            record["diagnosis"]["icd10_code"] = "ZZ9.9"
        elif fault == dead_letter.DATE_IN_FUTURE:
            record["encounter_time"] = record["encounter_time"] + timedelta(days=400)
        else:
            yield Produced(record["encounter_id"], None, b"this is not Avro: " + record["encounter_id"].encode(),
                           fault)
            continue
        yield Produced(record["encounter_id"], record, None, fault)
