"""The manifests the S3 sink commits: Redshift COPY manifests, listed and validated.

The sink writes its Parquet objects first and then, under ``<prefix>/_manifests/``, a
manifest listing exactly them (``{"entries": [{"url", "mandatory", "meta":
{"content_length", "record_count"}}]}``). A manifest therefore only ever names
objects that are already durable. ``content_length`` is required: Redshift needs it
to COPY Parquet with a manifest.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from warehouse.errors import ManifestError, WarehouseUnavailable

__all__ = [
    "MANIFEST_DIR",
    "Listed",
    "Manifest",
    "ManifestEntry",
    "list_manifests",
    "manifests_mark",
    "read_manifest",
    "split_s3_url",
]

MANIFEST_DIR = "_manifests"
_ETAG = re.compile(r"[0-9a-fA-F]{16,64}(-\d{1,5})?")


def _etag(raw: str | None) -> str | None:
    """The object's ETag without quotes, or None when S3 sent none we can quote safely."""
    value = (raw or "").strip('"')
    return value if _ETAG.fullmatch(value) else None


def split_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``."""
    if not url.startswith("s3://"):
        raise ManifestError(f"{url!r} is not an s3:// URL")
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise ManifestError(f"{url!r} lacks a bucket or a key")
    return bucket, key


@dataclass(frozen=True)
class ManifestEntry:
    url: str
    mandatory: bool
    content_length: int
    record_count: int | None

    @property
    def bucket(self) -> str:
        return split_s3_url(self.url)[0]

    @property
    def key(self) -> str:
        return split_s3_url(self.url)[1]


@dataclass(frozen=True)
class Manifest:
    bucket: str
    key: str
    entries: tuple[ManifestEntry, ...]
    # The manifest object's ETag: a manifest rewritten with other content is loaded again.
    etag: str | None = None

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @classmethod
    def parse(cls, bucket: str, key: str, body: bytes, etag: str | None = None) -> Manifest:
        """Validate a manifest document; ManifestError names what is wrong and where."""
        where = f"s3://{bucket}/{key}"
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"{where} is not JSON: {exc}") from exc
        raw = document.get("entries") if isinstance(document, dict) else None
        if not isinstance(raw, list):
            raise ManifestError(f"{where} has no 'entries' list")
        entries = []
        for n, item in enumerate(raw):
            meta = item.get("meta") if isinstance(item, dict) else None
            url = item.get("url") if isinstance(item, dict) else None
            length = meta.get("content_length") if isinstance(meta, dict) else None
            if not isinstance(url, str) or not isinstance(length, int) or isinstance(length, bool) or length < 0:
                raise ManifestError(
                    f"{where} entry {n} needs a 'url' and a non-negative meta.content_length (Redshift "
                    f"requires it for Parquet), got {item!r}")
            split_s3_url(url)
            count = meta.get("record_count")
            entries.append(ManifestEntry(url, bool(item.get("mandatory", False)), length,
                                         count if isinstance(count, int) else None))
        return cls(bucket, key, tuple(entries), etag)


def _unavailable(what: str, exc: Exception) -> WarehouseUnavailable:
    return WarehouseUnavailable(f"S3 did not answer {what}: {exc}")


@dataclass(frozen=True)
class Listed:
    key: str
    etag: str | None
    modified: datetime | None = None


def list_manifests(s3: Any, bucket: str, prefix: str) -> list[Listed]:
    """Every committed manifest under ``<prefix>/_manifests/`` with its ETag, sorted by key."""
    found: list[Listed] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=f"{prefix.strip('/')}/{MANIFEST_DIR}/"):
            found.extend(Listed(obj["Key"], _etag(obj.get("ETag")), obj.get("LastModified"))
                         for obj in page.get("Contents", []) if obj["Key"].endswith(".json"))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            raise ManifestError(f"bucket {bucket!r} does not exist; check DAAS_S3_BUCKET") from exc
        raise _unavailable(f"listing s3://{bucket}/{prefix}/{MANIFEST_DIR}/", exc) from exc
    except BotoCoreError as exc:
        raise _unavailable(f"listing s3://{bucket}/{prefix}/{MANIFEST_DIR}/", exc) from exc
    return sorted(found, key=lambda listed: listed.key)


def manifests_mark(listed: list[Listed]) -> dict[str, Any]:
    """What the lake's manifests look like now: how many, and the newest one's time.

    The ``lake_manifests_watch`` DAG compares this with the mark of the last asset event
    it emitted: a different mark means the S3 sink committed something new.
    """
    times = [item.modified for item in listed if item.modified is not None]
    return {"manifests": len(listed), "newest_modified": max(times).isoformat() if times else None}


def read_manifest(s3: Any, bucket: str, key: str) -> Manifest:
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
        body = response["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise ManifestError(f"manifest s3://{bucket}/{key} vanished after it was listed") from exc
        raise _unavailable(f"reading s3://{bucket}/{key}", exc) from exc
    except BotoCoreError as exc:
        raise _unavailable(f"reading s3://{bucket}/{key}", exc) from exc
    return Manifest.parse(bucket, key, body, _etag(response.get("ETag")))
