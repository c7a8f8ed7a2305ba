"""Clean encounters and lake files for warehouse tests, in both environments.

``write_lake_batch`` writes Parquet objects and a COPY manifest as
``sinks.s3_parquet.S3ParquetSink.write`` does (the sink's own key layout from
``sinks.lake.layout``, the same manifest JSON and Arrow schema), using only pyarrow
and boto3, because the Airflow environment cannot import the sink itself (it pulls in
confluent-kafka). ``test_lake_files_match_the_sink_byte_for_byte`` (stream
environment) checks the two stay identical.
"""

from __future__ import annotations

import io
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas import CLEAN_ENCOUNTER, SchemaStore
from schemas.columns import arrow_schema, columns
from sinks.lake.layout import manifest_key, object_key

LAKE_TOPIC = "health.clean.lake.v1"
_NAMESPACE = uuid.UUID("6f1c9d4e-3b7a-5c2d-9e8f-0a1b2c3d4e5f")


def epi_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}W{week:02d}"


def encounter(key: str, *, country_code: str = "NG", region: str = "Lagos", district: str = "Ikeja",
              facility_id: str = "NG-LA-IKJ-001", icd10_code: str = "B54", icd10_name: str = "Unspecified malaria",
              diagnosis_group: str = "malaria", encounter_date: date = date(2026, 11, 16),
              source_version: int = 1, **overrides: Any) -> dict[str, Any]:
    """A valid clean encounter whose record_id derives from ``key`` (same key, same id)."""
    event = datetime.combine(encounter_date, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    record = {
        "record_id": str(uuid.uuid5(_NAMESPACE, key)), "source": "gsheet", "source_key": key,
        "source_version": source_version, "patient_key": uuid.uuid5(_NAMESPACE, "p" + key).hex * 2,
        "sex": "female", "birth_year": 1990, "age_years": encounter_date.year - 1990, "age_band": "35-44",
        "country_code": country_code, "region": region, "district": district, "facility_id": facility_id,
        "encounter_date": encounter_date, "epi_week": epi_week(encounter_date), "icd10_code": icd10_code,
        "icd10_name": icd10_name, "diagnosis_group": diagnosis_group, "certainty": "confirmed",
        "severity": "mild", "outcome": "treated", "event_time": event,
        "ingested_at": event + timedelta(seconds=2), "processed_at": event + timedelta(seconds=3),
    }
    record.update(overrides)
    return record


def lake_schema() -> pa.Schema:
    return arrow_schema(SchemaStore.default().current(CLEAN_ENCOUNTER).raw)


def write_lake_batch(s3: Any, bucket: str, prefix: str, records: Iterable[dict[str, Any]], *,
                     topic: str = LAKE_TOPIC, partition: int = 0, first_offset: int = 0) -> str:
    """Write one sink batch (Parquet per country and week, then the manifest); return the manifest key."""
    schema = lake_schema()
    names = [c.name for c in columns(SchemaStore.default().current(CLEAN_ENCOUNTER).raw)]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[(record["country_code"], record["epi_week"])].append(record)
    entries = []
    for (country, week), group in sorted(groups.items()):
        table = pa.Table.from_pydict({n: [r[n] for r in group] for n in names}, schema=schema)
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        key = object_key(prefix, country, week, topic, partition, first_offset)
        body = buf.getvalue()
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/vnd.apache.parquet")
        entries.append({"url": f"s3://{bucket}/{key}", "mandatory": True,
                        "meta": {"content_length": len(body), "record_count": len(group)}})
    key = manifest_key(prefix, topic, partition, first_offset)
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps({"entries": entries}, indent=1).encode(),
                  ContentType="application/json")
    return key


def ensure_bucket(s3: Any, bucket: str) -> None:
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)


def delete_prefix(s3: Any, bucket: str, prefix: str) -> None:
    """Delete the test's objects; S3Proxy's filesystem store also lists its directories
    as ``.../`` keys, which it is slow to delete and which hold nothing: skip them."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith("/"):
                s3.delete_object(Bucket=bucket, Key=obj["Key"])
