"""The peer S3 sink: Quix Streams' ``S3FileSink`` writing a clean topic as Parquet to the same S3.

Run by the suite (``benchmarks.peers``) in ``.venvs/bench-peer`` with the repository on
``PYTHONPATH`` and the run's ``DAAS_*`` settings (S3 endpoint, bucket, credentials).
Records are decoded as our S3 sink decodes them (skip the 10-byte single-object
header, read Avro primitives), then handed to Quix's sink, which checkpoints every
second. It exits after ``idle`` seconds without a message and prints, as JSON, the
rows written and the seconds from the first record decoded to the last write.

Usage: ``python quix_s3_sink.py <consumer group> <topic> <S3 directory> <idle seconds>``.
"""

from __future__ import annotations

import io
import json
import sys
import time
from typing import Any

from botocore.config import Config
from fastavro import parse_schema, schemaless_reader
from quixstreams import Application
from quixstreams.models.serializers import Deserializer
from quixstreams.sinks.community.file.s3 import S3FileSink

from daas.settings import load_settings
from schemas import CLEAN_ENCOUNTER, SchemaStore
from schemas.codec import without_logical_types

_state: dict[str, Any] = {"first": None, "last_write": None, "rows": 0}


class _AvroSingleObject(Deserializer):
    """Same work as our sink's decoder: skip the 10-byte header, read Avro primitives."""

    def __init__(self) -> None:
        super().__init__()
        self._schema = parse_schema(without_logical_types(SchemaStore.default().current(CLEAN_ENCOUNTER).raw))

    def __call__(self, value: bytes, ctx: Any) -> Any:
        if _state["first"] is None:
            _state["first"] = time.monotonic()
        buf = io.BytesIO(value)
        buf.seek(10)
        return schemaless_reader(buf, self._schema, None)


class _TimedS3FileSink(S3FileSink):
    def write(self, batch: Any) -> None:
        super().write(batch)
        _state["last_write"] = time.monotonic()
        _state["rows"] += batch.size


def main(group: str, topic: str, directory: str, idle: float) -> None:
    settings = load_settings()
    app = Application(broker_address=settings.kafka_bootstrap_servers, consumer_group=group,
                      auto_offset_reset="earliest", commit_interval=1.0, loglevel="WARNING")
    sink = _TimedS3FileSink(
        bucket=settings.s3_bucket, aws_access_key_id=settings.require("s3_access_key_id"),
        aws_secret_access_key=settings.require("s3_secret_access_key"), region_name=settings.s3_region,
        endpoint_url=settings.s3_endpoint_url, directory=directory, format="parquet",
        # As for our client: S3-compatible servers refuse boto3's default checksum trailers.
        config=Config(request_checksum_calculation="when_required", response_checksum_validation="when_required"))
    app.dataframe(app.topic(topic, value_deserializer=_AvroSingleObject())).sink(sink)
    app.run(timeout=idle)
    seconds = (_state["last_write"] - _state["first"]) if _state["rows"] else None
    print(json.dumps({"rows": _state["rows"], "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]))
