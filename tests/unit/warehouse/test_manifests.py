"""Manifest parsing: the sink's format is accepted, anything Redshift would reject is not."""

from __future__ import annotations

import json

import pytest

from warehouse.errors import ManifestError
from warehouse.manifests import Manifest, ManifestEntry, split_s3_url

KEY = "encounters/_manifests/health.clean.lake.v1+0000+00000000000000000000.manifest.json"


def test_the_sinks_manifest_parses_to_its_entries() -> None:
    body = json.dumps({"entries": [
        {"url": "s3://daas-lake/encounters/country_code=NG/epi_week=2026W47/t+0000+00000000000000000000.parquet",
         "mandatory": True, "meta": {"content_length": 4096, "record_count": 12}},
        {"url": "s3://daas-lake/encounters/country_code=KE/epi_week=2026W47/t+0000+00000000000000000000.parquet",
         "mandatory": False, "meta": {"content_length": 2048}},
    ]}, indent=1).encode()
    manifest = Manifest.parse("daas-lake", KEY, body)
    assert manifest.url == f"s3://daas-lake/{KEY}"
    assert manifest.entries == (
        ManifestEntry("s3://daas-lake/encounters/country_code=NG/epi_week=2026W47/t+0000+00000000000000000000.parquet",
                      True, 4096, 12),
        ManifestEntry("s3://daas-lake/encounters/country_code=KE/epi_week=2026W47/t+0000+00000000000000000000.parquet",
                      False, 2048, None),
    )
    assert manifest.entries[0].bucket == "daas-lake"
    assert manifest.entries[0].key.startswith("encounters/country_code=NG/")


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "is not JSON"),
    (b"[]", "no 'entries' list"),
    (b'{"entries": {}}', "no 'entries' list"),
    (b'{"entries": [{"url": "s3://b/k", "mandatory": true}]}', "content_length"),
    (b'{"entries": [{"url": "s3://b/k", "meta": {"content_length": -1}}]}', "content_length"),
    (b'{"entries": [{"url": "s3://b/k", "meta": {"content_length": true}}]}', "content_length"),
    (b'{"entries": [{"url": "https://b/k", "meta": {"content_length": 1}}]}', "not an s3:// URL"),
    (b'{"entries": [{"url": "s3://bucket-only", "meta": {"content_length": 1}}]}', "lacks a bucket or a key"),
])
def test_malformed_manifests_are_refused_with_the_reason(body: bytes, message: str) -> None:
    with pytest.raises(ManifestError, match=message) as caught:
        Manifest.parse("daas-lake", KEY, body)
    assert "s3://" in str(caught.value)


def test_split_s3_url() -> None:
    assert split_s3_url("s3://b/a/b/c.parquet") == ("b", "a/b/c.parquet")
