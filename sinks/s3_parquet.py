"""S3 Parquet sink: one Parquet object per (topic partition, Hive partition) per batch.

Object keys are deterministic — ``<prefix>/country_code=NG/epi_week=2026W48/
<topic>+<partition>+<first offset, 20 digits>.parquet`` — so a batch rewritten after
a crash overwrites its own objects. Country and ISO week are the Hive partitions
because every surveillance query filters by place and week, and a week's data for a
country is what the warehouse load and analysts read together. After the objects, a
Redshift COPY manifest listing exactly them is written under ``<prefix>/_manifests/``;
the warehouse loader reads those. Column types come from the Avro schema.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from daas.dead_letter import Reason
from daas.errors import Retryable, SinkError
from daas.settings import Settings
from schemas import CLEAN_ENCOUNTER, SchemaStore
from sinks.avro_types import arrow_schema, columns
from sinks.base import Batch, Record, Sink

__all__ = ["S3ParquetSink", "manifest_key", "object_key", "s3_client"]

MANIFEST_DIR = "_manifests"
# Statuses worth another attempt; anything else (403, 404, 501 …) is a fault of ours.
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def s3_client(settings: Settings) -> Any:
    """A boto3 S3 client for the configured endpoint (S3Proxy/MinIO locally, AWS otherwise)."""
    key_id = settings.s3_access_key_id
    secret = settings.s3_secret_access_key
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=key_id.get_secret_value() if key_id else None,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        # Checksums only where S3 requires them: S3-compatible servers (S3Proxy, MinIO
        # versions) answer 501 to the streaming-trailer checksums boto3 sends by default.
        config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"},
                      request_checksum_calculation="when_required",
                      response_checksum_validation="when_required"),
    )


def object_key(prefix: str, country: str, week: str, topic: str, partition: int, first_offset: int) -> str:
    return (f"{prefix}/country_code={country}/epi_week={week}/"
            f"{topic}+{partition:04d}+{first_offset:020d}.parquet")


def manifest_key(prefix: str, topic: str, partition: int, first_offset: int) -> str:
    return f"{prefix}/{MANIFEST_DIR}/{topic}+{partition:04d}+{first_offset:020d}.manifest.json"


class S3ParquetSink(Sink):
    """Writes clean encounters as zstd Parquet with a schema derived from Avro."""

    name = "s3-sink"

    def __init__(self, settings: Settings, *, client: Any | None = None, compression: str = "zstd") -> None:
        self.bucket = settings.s3_bucket
        self.prefix = settings.s3_prefix.strip("/")
        self._s3 = client or s3_client(settings)
        schema = SchemaStore.default().current(CLEAN_ENCOUNTER).raw
        self._columns = [c.name for c in columns(schema)]
        self._schema = arrow_schema(schema)
        self._compression = compression

    def _table(self, records: list[Record]) -> pa.Table:
        data = {name: [self._cell(r.data[name]) for r in records] for name in self._columns}
        return pa.Table.from_pydict(data, schema=self._schema)

    @staticmethod
    def _cell(value: Any) -> Any:
        return str(value) if value.__class__.__name__ == "UUID" else value

    def _put(self, key: str, body: bytes, content_type: str) -> None:
        try:
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
        except (EndpointConnectionError, BotoCoreError) as exc:
            raise Retryable(f"S3 unavailable writing s3://{self.bucket}/{key}: {exc}") from exc
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status in _TRANSIENT_STATUS:
                raise Retryable(f"S3 answered {status} writing s3://{self.bucket}/{key}") from exc
            raise SinkError(f"S3 refused s3://{self.bucket}/{key}: {exc}") from exc

    def write(self, batch: Batch) -> list[tuple[Record, Reason]]:
        by_partition: dict[tuple[str, int], list[Record]] = defaultdict(list)
        for record in batch:
            by_partition[(record.topic, record.partition)].append(record)
        for (topic, partition), records in sorted(by_partition.items()):
            first = records[0].offset
            groups: dict[tuple[str, str], list[Record]] = defaultdict(list)
            for record in records:
                groups[(record.data["country_code"], record.data["epi_week"])].append(record)
            entries = []
            for (country, week), group in sorted(groups.items()):
                buf = io.BytesIO()
                pq.write_table(self._table(group), buf, compression=self._compression)
                key = object_key(self.prefix, country, week, topic, partition, first)
                body = buf.getvalue()
                self._put(key, body, "application/vnd.apache.parquet")
                entries.append({"url": f"s3://{self.bucket}/{key}", "mandatory": True,
                                "meta": {"content_length": len(body), "record_count": len(group)}})
            manifest = {"entries": entries}
            self._put(manifest_key(self.prefix, topic, partition, first),
                      json.dumps(manifest, indent=1).encode(), "application/json")
        return []
