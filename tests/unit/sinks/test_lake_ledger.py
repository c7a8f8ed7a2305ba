"""The S3 sink's write-ahead ledger against an in-memory S3 (moto): a crash between any
two puts, differently cut rewrites and replays leave exactly one copy of every row."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from daas.errors import Retryable
from daas.settings import Settings
from sinks.base import Batch, PartitionStart, Record
from sinks.base.buffer import PartitionBuffer
from sinks.lake.layout import intent_key, manifest_key, object_key
from sinks.s3_parquet import DEFAULT_POLICY, S3ParquetSink
from tests.unit.sinks.fakes import FakeMessage
from tests.unit.sinks.samples import clean

BUCKET, PREFIX, TOPIC = "lake", "enc", "clean"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def sink(s3: Any) -> S3ParquetSink:
    return S3ParquetSink(Settings(s3_bucket=BUCKET, s3_prefix=PREFIX), client=s3)


def records(offsets: range, country: Any = lambda o: "NG" if o < 5 else "KE") -> list[Record]:
    return [Record(TOPIC, 0, o, 0, None, b"v", [], clean(o, country_code=country(o))) for o in offsets]


def batch(recs: list[Record], next_offset: int | None = None) -> Batch:
    return Batch(TOPIC, 0, first_offset=recs[0].offset, next_offset=next_offset or recs[-1].offset + 1,
                 records=recs)


def start(committed: int | None, low: int = 0, high: int = 1000) -> PartitionStart:
    return PartitionStart(TOPIC, 0, committed, low, high)


def rows(s3: Any) -> dict[str, list[str]]:
    out = {}
    for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + "/").get("Contents", []):
        if obj["Key"].endswith(".parquet"):
            body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
            out[obj["Key"]] = pq.read_table(io.BytesIO(body)).column("source_key").to_pylist()
    return out


def all_rows(s3: Any) -> list[str]:
    return sorted(k for keys in rows(s3).values() for k in keys)


def expected(offsets: range) -> list[str]:
    return sorted(clean(o)["source_key"] for o in offsets)


def test_a_write_puts_its_intent_first_then_objects_then_the_manifest(s3: Any) -> None:
    calls: list[str] = []
    lake = sink(s3)
    lake.prepare(start(None))
    real_put = lake.bucket.put
    lake.bucket.put = lambda key, body, ct: (calls.append(key), real_put(key, body, ct))[1]  # type: ignore[method-assign]
    assert lake.write(batch(records(range(10)))) == []
    assert calls[0] == intent_key(PREFIX, TOPIC, 0)
    assert calls[-1] == manifest_key(PREFIX, TOPIC, 0, 0)
    assert sorted(calls[1:-1]) == sorted([object_key(PREFIX, "KE", "2026W48", TOPIC, 0, 0),
                                          object_key(PREFIX, "NG", "2026W48", TOPIC, 0, 0)])
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=calls[-1])["Body"].read())
    assert [(e["url"], e["mandatory"], e["meta"]["record_count"]) for e in manifest["entries"]] == [
        (f"s3://{BUCKET}/{object_key(PREFIX, 'KE', '2026W48', TOPIC, 0, 0)}", True, 5),
        (f"s3://{BUCKET}/{object_key(PREFIX, 'NG', '2026W48', TOPIC, 0, 0)}", True, 5)]
    for entry in manifest["entries"]:
        key = entry["url"].removeprefix(f"s3://{BUCKET}/")
        assert entry["meta"]["content_length"] == s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]


def test_an_uncommitted_write_recut_differently_leaves_no_orphan(s3: Any) -> None:
    first = sink(s3)
    first.prepare(start(None))
    first.write(batch(records(range(10))))  # then the process dies before committing
    restarted = sink(s3)
    plan = restarted.prepare(start(0))
    assert plan.ranges.as_list() == [(0, 10)] and plan.seek_to is None
    # A forced, shorter cut (memory budget) now writes [0, 5) and later [5, 10).
    restarted.write(batch(records(range(5)), next_offset=5))
    restarted.write(batch(records(range(5, 10))))
    assert all_rows(s3) == expected(range(10))
    assert sorted(rows(s3)) == sorted([object_key(PREFIX, "NG", "2026W48", TOPIC, 0, 0),
                                       object_key(PREFIX, "KE", "2026W48", TOPIC, 0, 5)])
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=manifest_key(PREFIX, TOPIC, 0, 0))["Body"].read())
    assert [e["url"].rsplit("/", 3)[1] for e in manifest["entries"]] == ["country_code=NG"]


def three_countries(offset: int) -> str:
    return ("GH", "ZA", "KE")[offset % 3]


@pytest.mark.parametrize("dies_at", ["second object", "manifest"])
def test_a_write_that_died_half_way_is_rewritten_with_the_same_cut(s3: Any, dies_at: str) -> None:
    lake = sink(s3)
    lake.prepare(start(None))
    lake.write(batch(records(range(10))))  # committed: [0, 10)
    dying = sink(s3)
    dying.prepare(start(10))
    dying._pool = ThreadPoolExecutor(max_workers=1)  # one put at a time: "the second object" is well defined
    real_put = dying.bucket.put
    objects = []

    def put(key: str, body: bytes, content_type: str) -> None:
        if key.endswith(".parquet"):
            objects.append(key)
        if (dies_at == "second object" and len(objects) == 2) or (dies_at == "manifest" and "/_manifests/" in key):
            raise Retryable("killed")
        real_put(key, body, content_type)

    dying.bucket.put = put  # type: ignore[method-assign]
    with pytest.raises(Retryable):
        dying.write(batch(records(range(10, 25), country=three_countries)))
    next_owner = sink(s3)
    plan = next_owner.prepare(start(10))
    assert (plan.seek_to, plan.ranges.as_list()) == (None, [(10, 25)])
    # The next owner cuts [10, 25) where the intent says, whatever its own policy says.
    buffer = PartitionBuffer(DEFAULT_POLICY, plan.ranges)
    for offset in range(10, 30):
        buffer.append(FakeMessage(offset))
    assert (buffer.ready(), buffer.next_offset_after(buffer.ready())) == (15, 25)
    next_owner.write(batch(records(range(10, 25), country=three_countries)))
    assert all_rows(s3) == expected(range(25))


def test_keys_made_obsolete_are_deleted_even_after_a_crash_before_the_delete(s3: Any) -> None:
    lake = sink(s3)
    lake.prepare(start(None))
    lake.write(batch(records(range(10))))  # NG and KE objects at offset 0, committed
    # A replay by a sink that groups the same offsets differently (say, a new version).
    replay = sink(s3)
    assert replay.prepare(start(0)).ranges.as_list() == [(0, 10)]

    def delete(keys: Any) -> None:
        raise Retryable("killed before deleting")

    replay.bucket.delete = delete  # type: ignore[method-assign]
    with pytest.raises(Retryable):
        replay.write(batch(records(range(10), country=three_countries)))
    intent = json.loads(s3.get_object(Bucket=BUCKET, Key=intent_key(PREFIX, TOPIC, 0))["Body"].read())
    assert [k.split("/")[1] for k in intent["obsolete"]] == ["country_code=NG"]  # KE is rewritten
    next_owner = sink(s3)
    next_owner.prepare(start(0))
    next_owner.write(batch(records(range(10), country=three_countries)))
    assert sorted({k.split("/")[1] for k in rows(s3)}) == ["country_code=GH", "country_code=KE", "country_code=ZA"]
    assert all_rows(s3) == expected(range(10))


def test_a_replay_into_the_middle_of_a_write_restarts_at_its_first_offset(s3: Any) -> None:
    lake = sink(s3)
    lake.prepare(start(None))
    lake.write(batch(records(range(10))))
    lake.write(batch(records(range(10, 20))))
    lake.write(batch(records(range(20, 30))))
    again = sink(s3)
    plan = again.prepare(start(15))
    assert (plan.seek_to, plan.ranges.as_list()) == (10, [(10, 20), (20, 30)])
    expired_head = again.prepare(start(15, low=12))
    assert expired_head.seek_to == 20  # [10, 20) cannot be rebuilt; its rows are already in S3
    from_start = again.prepare(start(0))
    assert (from_start.seek_to, from_start.ranges.as_list()) == (None, [(0, 10), (10, 20), (20, 30)])
    before = rows(s3)
    for first in (0, 10, 20):
        again.write(batch(records(range(first, first + 10))))
    assert rows(s3) == before


def test_after_a_failure_a_write_asks_s3_before_decoding_anything(s3: Any) -> None:
    lake = sink(s3)
    lake.prepare(start(None))
    real_put, real_probe = lake.bucket.put, lake.bucket.probe

    def down(*args: Any) -> None:
        raise Retryable("S3 unavailable")

    lake.bucket.put = down  # type: ignore[method-assign]
    with pytest.raises(Retryable):
        lake.write(batch(records(range(3))))

    def must_not_decode(value: bytes | None) -> dict[str, Any]:
        raise AssertionError("decoded while S3 is known to be down")

    lake.bucket.probe = down  # type: ignore[method-assign]
    undecoded = Batch(TOPIC, 0, first_offset=0, next_offset=3, messages=[FakeMessage(o) for o in range(3)],
                      decode=must_not_decode)
    with pytest.raises(Retryable):
        lake.write(undecoded)
    lake.bucket.put, lake.bucket.probe = real_put, real_probe  # type: ignore[method-assign]
    assert lake.write(batch(records(range(3)))) == []
    assert all_rows(s3) == expected(range(3))
