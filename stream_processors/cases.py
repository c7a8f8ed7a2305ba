"""What the processor tells surveillance: case changes per district, with their input coordinates.

The processor (librdkafka, per batch) sends one message per district and input
partition per batch to the cases topic, keyed by ``country|district`` so that every
change for a district meets in one partition of the surveillance service (Faust).
Each change names the input offset of the record that caused it:

    key   = "NG|Ikeja"
    value = {"src": "health.raw.simuhealth.v1:2",
             "items": [[offset, diagnosis_group, epi_week, +1 or -1], ...]}

A new record adds +1 to its group and week; a correction that moves a record to
another group or week (or district) adds -1 where it was counted and +1 where it
now belongs; a re-send adds nothing. Surveillance applies an item only when its
offset is past the last one it applied for that district and input partition, so a
message delivered twice — a crash between send and commit, a replay from old offsets,
an aborted transaction and its retry — counts once: the processor's decisions are a
function of the input partition's history alone, so a second delivery carries the
same items at the same offsets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["CaseChange", "CaseMessage", "district_key", "split_district_key"]


def district_key(country_code: str, district: str) -> str:
    return f"{country_code}|{district}"


def split_district_key(key: str) -> tuple[str, str]:
    country_code, _, district = key.partition("|")
    return country_code, district


class CaseChange(NamedTuple):
    """One record entering (+1) or leaving (-1) a diagnosis group's count for a week."""

    offset: int
    diagnosis_group: str
    epi_week: str
    sign: int


@dataclass
class CaseMessage:
    """The changes one batch made to one district, from one input partition, in offset order."""

    district: str  # district_key()
    source: str  # "topic:partition" of the input
    changes: list[CaseChange] = field(default_factory=list)

    def encode(self) -> tuple[bytes, bytes]:
        """Key and value for the cases topic."""
        return self.district.encode(), json.dumps({"src": self.source, "items": self.changes},
                                                  separators=(",", ":")).encode()

    @classmethod
    def decode(cls, key: bytes, value: bytes) -> CaseMessage:
        """The message from its key and value; ValueError if it is not one."""
        try:
            body = json.loads(value)
            changes = [CaseChange(int(o), str(g), str(w), int(s)) for o, g, w, s in body["items"]]
            return cls(key.decode(), str(body["src"]), changes)
        except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"not a case message: {exc}") from exc

    def __iter__(self) -> Iterator[CaseChange]:
        return iter(self.changes)
