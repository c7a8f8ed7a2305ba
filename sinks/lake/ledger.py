"""The S3 sink's write-ahead ledger: no orphaned or duplicated objects, ever.

Object names derive from a write's first offset, so rewriting the same offsets with
the same cuts overwrites the same objects. Two things could still leave stray rows:
a crash mid-write followed by differently cut writes (the clock-driven idle flush is
not reproducible), and a replay that cuts differently from the original run. The
ledger closes both:

- **Intent.** Before a write puts any object, it records in ``_intents/<tp>.json`` the
  offsets ``[first, next)`` it covers, every key it will put, and the keys it makes
  obsolete. Intents are overwritten by the partition's next write, never deleted.
- **Known ranges.** When the sink is given a partition, the committed manifests near
  and after the start offset, plus the intent, tell the offset ranges earlier writes
  covered. The runner cuts writes at exactly those boundaries (and starts at the
  beginning of a range it would otherwise enter half way), so a crash or a replay
  rewrites the same keys with the same rows.
- **Obsolete keys.** A write that starts where an earlier write (an old manifest or an
  unfinished intent) started, but produces a different set of keys, deletes the old
  keys it did not rewrite — after its own objects and manifest are in place, and with
  those keys listed in its intent first so a crash cannot forget them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from itertools import pairwise

from daas.errors import SinkError
from sinks.base.contract import PartitionPlan, PartitionStart
from sinks.base.ranges import KnownRanges
from sinks.destinations.s3 import S3Bucket
from sinks.lake.layout import intent_key, manifest_key, manifest_offset, manifest_prefix

__all__ = ["Intent", "PartitionLedger", "load_ledger"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intent:
    """What one write is about to put (and delete) for one topic partition."""

    first_offset: int
    next_offset: int
    keys: tuple[str, ...]
    obsolete: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        return json.dumps({"first_offset": self.first_offset, "next_offset": self.next_offset,
                           "keys": list(self.keys), "obsolete": list(self.obsolete)}, indent=1).encode()

    @classmethod
    def from_json(cls, body: bytes, where: str) -> Intent:
        try:
            doc = json.loads(body)
            return cls(int(doc["first_offset"]), int(doc["next_offset"]), tuple(doc["keys"]),
                       tuple(doc.get("obsolete", ())))
        except (ValueError, KeyError, TypeError) as exc:
            raise SinkError(f"write intent {where} is not readable ({exc}); it was written by this sink, so "
                            "the bucket was modified by hand: restore or delete it") from exc


@dataclass
class PartitionLedger:
    """The ledger of one topic partition while this sink owns it."""

    topic: str
    partition: int
    intent: Intent | None = None
    manifest_starts: set[int] = field(default_factory=set)

    def previous_keys(self, bucket: S3Bucket, prefix: str, first_offset: int) -> set[str]:
        """Keys an earlier write starting at ``first_offset`` put or meant to put."""
        keys: set[str] = set()
        if self.intent is not None and self.intent.first_offset == first_offset:
            keys.update(self.intent.keys, self.intent.obsolete)
        if first_offset in self.manifest_starts:
            key = manifest_key(prefix, self.topic, self.partition, first_offset)
            body = bucket.get(key)
            if body is not None:
                keys.add(key)
                keys.update(_manifest_object_keys(body, bucket, key))
        return keys

    def wrote(self, intent: Intent, *, with_manifest: bool) -> None:
        self.intent = intent
        if with_manifest:
            self.manifest_starts.add(intent.first_offset)
        else:
            self.manifest_starts.discard(intent.first_offset)


def _manifest_object_keys(body: bytes, bucket: S3Bucket, key: str) -> list[str]:
    try:
        entries = json.loads(body)["entries"]
        urls = [entry["url"] for entry in entries]
    except (ValueError, KeyError, TypeError) as exc:
        raise SinkError(f"manifest {bucket.url(key)} is not readable ({exc}); restore or delete it") from exc
    own = f"s3://{bucket.name}/"
    return [url.removeprefix(own) for url in urls if url.startswith(own)]


def load_ledger(bucket: S3Bucket, prefix: str, start: PartitionStart, *,
                lookback: int) -> tuple[PartitionLedger, PartitionPlan]:
    """Read the partition's intent and nearby manifests; say where to start and which
    cuts to keep. ``lookback`` offsets before the start are searched for the write
    that contains it. Raises ``Retryable`` while S3 is away."""
    topic, partition = start.topic, start.partition
    where = intent_key(prefix, topic, partition)
    body = bucket.get(where)
    intent = Intent.from_json(body, bucket.url(where)) if body is not None else None
    position = start.position
    low_bound = position - lookback
    after = manifest_key(prefix, topic, partition, low_bound - 1) if low_bound > 0 else None
    starts = sorted(o for o in (manifest_offset(k) for k in
                                bucket.list_keys(manifest_prefix(prefix, topic, partition), start_after=after))
                    if o is not None)
    ranges = list(pairwise(starts))
    if intent is not None and starts and intent.first_offset < starts[-1]:
        log.warning("%s[%d]: the write intent (offset %d) is older than the newest manifest (offset %d); "
                    "ignoring it", topic, partition, intent.first_offset, starts[-1])
        intent = None
    if starts:
        last = starts[-1]
        if intent is not None and intent.first_offset == last:
            ranges.append((last, intent.next_offset))
        elif intent is not None:
            ranges.append((last, intent.first_offset))
    if intent is not None and (not starts or intent.first_offset > starts[-1]):
        ranges.append((intent.first_offset, intent.next_offset))
    known = KnownRanges(ranges)
    seek_to = None
    inside = known.containing(position)
    if inside is not None:
        first, end = inside
        if first >= start.low:
            seek_to = first  # rewrite that write whole, with its original cut
        elif intent is None or intent.first_offset != first:
            seek_to = end  # its head expired from Kafka; its objects already hold these rows
        else:
            log.error("%s[%d]: an unfinished write [%d, %d) began before the earliest offset still in Kafka "
                      "(%d); its objects cannot be rebuilt", topic, partition, first, end, start.low)
    known.forget_before(seek_to if seek_to is not None else position)
    ledger = PartitionLedger(topic, partition, intent, set(starts))
    return ledger, PartitionPlan(seek_to=seek_to, ranges=known)
