"""S3 Parquet sink: clean encounters to the lake, one set of objects per write.

A write is one partition's offsets ``[first, next)`` as cut by the runner: by record
count, bytes, record-time window, idle timer or memory budget (``FlushPolicy``), and
always at the boundaries the ledger knows. Each write becomes one zstd Parquet
object per (country, ISO week) Hive partition and then one Redshift COPY manifest
listing exactly those objects; the runner commits the offsets afterwards. Column
types come from the Avro schema (``sinks.formats.parquet``); records of an older
compatible schema arrive already projected onto the current one, so a schema change
neither splits files nor changes their layout. A record whose value does not convert
is rejected alone (dead-lettered by the runner); the rest is written.

Layout and names: ``sinks.lake.layout``. Exactness across crashes and replays:
``sinks.lake.ledger``. Run by ``python -m sinks s3`` / ``daas sink s3``.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from daas.errors import Retryable
from daas.settings import Settings
from schemas import CLEAN_ENCOUNTER, SchemaStore
from sinks.base.batch import Batch, Record, Rejection
from sinks.base.contract import PartitionPlan, PartitionStart, Sink
from sinks.base.policy import FlushPolicy
from sinks.destinations.s3 import S3Bucket, s3_client
from sinks.formats.parquet import ParquetFormat
from sinks.lake.layout import intent_key, manifest_key, object_key
from sinks.lake.ledger import Intent, PartitionLedger, load_ledger

__all__ = ["DEFAULT_POLICY", "S3ParquetSink", "manifest_key", "object_key", "s3_client"]

DEFAULT_POLICY = FlushPolicy(max_records=100_000, max_bytes=64 * 2**20,
                             record_time_interval_ms=10 * 60 * 1000, idle_seconds=60.0)
_PARTITION_COLUMNS = ("country_code", "epi_week")


class S3ParquetSink(Sink):
    """Writes clean encounters as Parquet objects plus a COPY manifest per write."""

    name = "s3-sink"
    logical_types = False  # Avro primitives convert to Arrow in bulk

    def __init__(self, settings: Settings, *, client: Any | None = None, policy: FlushPolicy | None = None,
                 compression: str = "zstd", store: SchemaStore | None = None, upload_threads: int = 4) -> None:
        self.bucket = S3Bucket(client or s3_client(settings), settings.s3_bucket)
        self.prefix = settings.s3_prefix.strip("/")
        self.policy = policy or DEFAULT_POLICY
        self.format = ParquetFormat((store or SchemaStore.default()).current(CLEAN_ENCOUNTER).raw,
                                    compression=compression)
        # Look this far before a start offset for the write that contains it.
        self.lookback = 10 * self.policy.max_records
        self._ledgers: dict[tuple[str, int], PartitionLedger] = {}
        self._available = True
        self._pool = ThreadPoolExecutor(max_workers=upload_threads, thread_name_prefix="s3-sink-put")

    def prepare(self, start: PartitionStart) -> PartitionPlan:
        ledger, plan = load_ledger(self.bucket, self.prefix, start, lookback=self.lookback)
        self._ledgers[(start.topic, start.partition)] = ledger
        return plan

    def release(self, topic: str, partition: int) -> None:
        self._ledgers.pop((topic, partition), None)

    def write(self, batch: Batch | list[Record]) -> list[Rejection]:
        if not isinstance(batch, Batch):
            batch = Batch.of(batch)
        if not self._available:
            # After a failure, ask S3 before decoding anything: retries during an outage
            # then cost one request, not a batch of decoding and Arrow conversion.
            self.bucket.probe()
        try:
            rejected = self._write(batch)
        except Retryable:
            self._available = False
            raise
        self._available = True
        return rejected

    def _write(self, batch: Batch) -> list[Rejection]:
        tp = (batch.topic, batch.partition)
        ledger = self._ledgers.setdefault(tp, PartitionLedger(*tp))
        tables: list[pa.Table] = []
        rejected: list[Rejection] = []
        for sources, rows in batch.decoded():
            if rows:
                table, bad = self.format.to_table(rows)
                tables.append(table)
                rejected += [(batch.record(sources[i], rows[i]), reason) for i, reason in sorted(bad.items())]
        groups = _groups(pa.concat_tables(tables) if tables else self.format.schema.empty_table())
        keys = {group: object_key(self.prefix, group[0], group[1], batch.topic, batch.partition, batch.first_offset)
                for group in groups}
        manifest = manifest_key(self.prefix, batch.topic, batch.partition, batch.first_offset)
        new_keys = [*keys.values(), manifest] if groups else []
        obsolete = sorted(ledger.previous_keys(self.bucket, self.prefix, batch.first_offset) - set(new_keys))
        intent = Intent(batch.first_offset, batch.next_offset, tuple(new_keys), tuple(obsolete))
        self.bucket.put(intent_key(self.prefix, *tp), intent.to_json(), "application/json")
        entries = list(self._pool.map(lambda g: self._put_object(keys[g], groups[g]), sorted(groups)))
        if entries:
            body = json.dumps({"entries": entries}, indent=1).encode()
            self.bucket.put(manifest, body, "application/json")
        if obsolete:
            self.bucket.delete(obsolete)
        ledger.wrote(intent, with_manifest=bool(entries))
        return rejected

    def _put_object(self, key: str, table: pa.Table) -> dict[str, Any]:
        body = self.format.to_bytes(table)
        self.bucket.put(key, body, self.format.content_type)
        return {"url": self.bucket.url(key), "mandatory": True,
                "meta": {"content_length": len(body), "record_count": table.num_rows}}

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _groups(table: pa.Table) -> dict[tuple[str, str], pa.Table]:
    """Rows per Hive partition (country, ISO week), each in offset order: one stable
    sort, then zero-copy slices."""
    if not table.num_rows:
        return {}
    ordered = table.take(pc.sort_indices(table, sort_keys=[(c, "ascending") for c in _PARTITION_COLUMNS]))
    keys = list(zip(*(ordered.column(c).to_pylist() for c in _PARTITION_COLUMNS), strict=True))
    groups: dict[tuple[str, str], pa.Table] = {}
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            groups[keys[start]] = ordered.slice(start, i - start)
            start = i
    return groups
