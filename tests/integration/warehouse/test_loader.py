"""The warehouse load against the real local stack: S3Proxy objects into PostgreSQL.

Files are written by the real S3 sink where it matters (so the loader reads exactly
what production writes) and by ``lake_files`` elsewhere (which the first test proves
identical to the sink).
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import date

import pyarrow.parquet as pq
import pytest

from sinks.base import Record
from sinks.s3_parquet import S3ParquetSink
from tests.integration.warehouse.lake_files import LAKE_TOPIC, encounter, lake_schema, write_lake_batch
from warehouse.errors import LoadInProgress, ManifestLoadFailed
from warehouse.loader import LoadReport, load_new_manifests
from warehouse.manifests import read_manifest
from warehouse.postgres import PostgresWarehouse
from warehouse.tables import lake_columns

NAMES = [c.name for c in lake_columns()]


def sink_write(corner, records: list[dict], *, partition: int = 0, first_offset: int = 0) -> None:  # noqa: ANN001
    sink = S3ParquetSink(corner.settings, client=corner.s3)
    batch = [Record(LAKE_TOPIC, partition, first_offset + n, 0, r["source_key"].encode(), b"", (), r)
             for n, r in enumerate(records)]
    assert sink.write(batch) == []


def as_row(record: dict) -> tuple:
    return tuple(uuid.UUID(record[n]) if n == "record_id" else record[n] for n in NAMES)


def lake_rows(corner) -> list[tuple]:  # noqa: ANN001
    cols = ", ".join(f'"{n}"' for n in NAMES)
    return corner.rows(f'select {cols} from "{{lake}}".encounters order by source_key')


def test_sink_files_load_whole_and_exactly_once(corner) -> None:  # noqa: ANN001
    places = [("NG", "Lagos", "Ikeja", date(2026, 11, 16))] * 5 + [("KE", "Nairobi", "Westlands", date(2026, 11, 9))] * 4
    records = [encounter(f"k{n:02d}", country_code=c, region=r, district=d, facility_id=f"{c}-X-{n:03d}",
                         birth_year=None if n == 3 else 1990, encounter_date=day)
               for n, (c, r, d, day) in enumerate(places)]
    sink_write(corner, records[:6], first_offset=0)
    sink_write(corner, records[6:], partition=1, first_offset=100)

    first = load_new_manifests(corner.settings, s3=corner.s3, conn=corner.conn, schemas=corner.schemas)
    again = load_new_manifests(corner.settings, s3=corner.s3, conn=corner.conn, schemas=corner.schemas)

    assert first == LoadReport(2, 9, 9, 2)
    assert again == LoadReport(0, 0, 0, 2)
    assert lake_rows(corner) == sorted(map(as_row, records), key=lambda row: row[NAMES.index("source_key")])
    audit = corner.rows('select manifest_key, objects, "rows", rows_merged from "{lake}".load_audit order by 1')
    prefix = corner.prefix
    assert audit == [(f"{prefix}/_manifests/{LAKE_TOPIC}+0000+00000000000000000000.manifest.json", 2, 6, 6),
                     (f"{prefix}/_manifests/{LAKE_TOPIC}+0001+00000000000000000100.manifest.json", 1, 3, 3)]
    assert corner.rows('select count(*) from "{lake}".load_lock') == [(0,)]


def test_lake_files_match_the_sink_byte_for_byte(corner) -> None:  # noqa: ANN001
    records = [encounter(f"m{n}", country_code=c) for n, c in enumerate(["NG", "KE", "NG"])]
    sink_write(corner, records, partition=2, first_offset=7)
    helper_prefix = corner.prefix + "/helper"
    helper_key = write_lake_batch(corner.s3, corner.bucket, helper_prefix, records, partition=2, first_offset=7)
    sink_key = helper_key.replace(helper_prefix, corner.prefix)

    def body(key: str) -> bytes:
        return corner.s3.get_object(Bucket=corner.bucket, Key=key)["Body"].read()

    assert body(helper_key).decode() == body(sink_key).decode().replace(corner.prefix + "/", helper_prefix + "/")
    for entry in json.loads(body(sink_key))["entries"]:
        key = entry["url"].split("/", 3)[3]
        assert body(key) == body(key.replace(corner.prefix, helper_prefix, 1))
        assert pq.read_table(io.BytesIO(body(key))).schema.equals(lake_schema())


def test_the_newest_version_wins_and_replays_change_nothing(corner) -> None:  # noqa: ANN001
    write_lake_batch(corner.s3, corner.bucket, corner.prefix,
                     [encounter("k1", source_version=1), encounter("k2", source_version=5)], first_offset=0)
    write_lake_batch(corner.s3, corner.bucket, corner.prefix,
                     [encounter("k1", source_version=3, severity="severe"),
                      encounter("k1", source_version=2, severity="moderate"),  # same batch, older
                      encounter("k2", source_version=4, severity="severe")],  # older than loaded
                     first_offset=2)
    report = load_new_manifests(corner.settings, s3=corner.s3, conn=corner.conn, schemas=corner.schemas)
    assert report == LoadReport(2, 5, 3, 2)  # k1, k2 inserted; k1 updated once; k2 v4 dropped
    # The first manifest again, under a new key (a replay): audited, nothing merged.
    write_lake_batch(corner.s3, corner.bucket, corner.prefix,
                     [encounter("k1", source_version=1), encounter("k2", source_version=5)], first_offset=9)
    replay = load_new_manifests(corner.settings, s3=corner.s3, conn=corner.conn, schemas=corner.schemas)
    assert replay == LoadReport(1, 2, 0, 3)
    assert lake_rows(corner) == [as_row(encounter("k1", source_version=3, severity="severe")),
                                 as_row(encounter("k2", source_version=5))]


def test_a_manifest_loaded_twice_in_a_race_is_merged_and_audited_once(corner) -> None:  # noqa: ANN001
    key = write_lake_batch(corner.s3, corner.bucket, corner.prefix, [encounter("r1"), encounter("r2")])
    warehouse = corner.warehouse()
    warehouse.ensure_tables()
    manifest = read_manifest(corner.s3, corner.bucket, key)
    first, second = warehouse.load_manifest(manifest), warehouse.load_manifest(manifest)
    assert (first.rows_merged, first.already_loaded) == (2, False)
    assert (second.rows_staged, second.rows_merged, second.already_loaded) == (2, 0, True)
    assert corner.rows('select count(*) from "{lake}".load_audit') == [(1,)]


def test_bad_manifests_are_reported_and_do_not_stop_the_good_ones(corner) -> None:  # noqa: ANN001
    s3, bucket, prefix = corner.s3, corner.bucket, corner.prefix
    write_lake_batch(s3, bucket, prefix, [encounter("good1")], first_offset=0)
    # content_length that does not match the object
    bad_length = write_lake_batch(s3, bucket, prefix, [encounter("bad1")], first_offset=10)
    doc = json.loads(s3.get_object(Bucket=bucket, Key=bad_length)["Body"].read())
    doc["entries"][0]["meta"]["content_length"] += 1
    s3.put_object(Bucket=bucket, Key=bad_length, Body=json.dumps(doc).encode())
    # a mandatory object that is not there, and an optional one that is not there either
    missing = {"url": f"s3://{bucket}/{prefix}/nowhere.parquet", "mandatory": True, "meta": {"content_length": 1}}
    s3.put_object(Bucket=bucket, Key=f"{prefix}/_manifests/missing.manifest.json",
                  Body=json.dumps({"entries": [missing]}).encode())
    optional = write_lake_batch(s3, bucket, prefix, [encounter("good2")], first_offset=20)
    doc = json.loads(s3.get_object(Bucket=bucket, Key=optional)["Body"].read())
    doc["entries"].append({**missing, "mandatory": False})
    s3.put_object(Bucket=bucket, Key=optional, Body=json.dumps(doc).encode())
    # Parquet with the right columns in the wrong order (Redshift would load it shifted)
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=json.loads(
        s3.get_object(Bucket=bucket, Key=optional)["Body"].read())["entries"][0]["url"].split("/", 3)[3])["Body"].read()))
    shuffled = table.select(list(reversed(table.schema.names)))
    buf = io.BytesIO()
    pq.write_table(shuffled, buf)
    s3.put_object(Bucket=bucket, Key=f"{prefix}/shuffled.parquet", Body=buf.getvalue())
    s3.put_object(Bucket=bucket, Key=f"{prefix}/_manifests/shuffled.manifest.json", Body=json.dumps({"entries": [
        {"url": f"s3://{bucket}/{prefix}/shuffled.parquet", "mandatory": True,
         "meta": {"content_length": len(buf.getvalue())}}]}).encode())

    with pytest.raises(ManifestLoadFailed) as caught:
        load_new_manifests(corner.settings, s3=s3, conn=corner.conn, schemas=corner.schemas)
    message = str(caught.value)
    assert message.startswith("3 manifest(s) could not be loaded (the other 2 were)")
    assert "+0000+00000000000000000010.manifest.json: " in message and "but the manifest says content_length" in message
    assert "missing.manifest.json: mandatory object" in message and "does not exist" in message
    assert "shuffled.manifest.json: " in message and "loads by position" in message
    assert caught.value.report == LoadReport(2, 2, 2, 5, caught.value.report.failed)
    assert [r[0] for r in lake_rows(corner)] == [uuid.UUID(encounter(k)["record_id"]) for k in ("good1", "good2")]
    assert corner.rows('select count(*) from "{lake}".load_audit') == [(2,)]


def test_a_running_load_holds_a_lease_others_can_see_and_respect(corner) -> None:  # noqa: ANN001
    write_lake_batch(corner.s3, corner.bucket, corner.prefix, [encounter("l1")])
    warehouse = corner.warehouse()
    warehouse.ensure_tables()
    with warehouse.lease("loader-a:1:x", seconds=600):
        [lease] = corner.warehouse().live_leases()
        assert lease.holder == "loader-a:1:x"
        with pytest.raises(LoadInProgress, match="loader-a:1:x"):
            load_new_manifests(corner.settings, s3=corner.s3, conn=corner.conn, schemas=corner.schemas)
    assert warehouse.live_leases() == []
    # A crashed loader's lease expires and is taken over.
    corner.conn.execute(f"insert into \"{corner.schemas.lake}\".load_lock values ('warehouse_copy', 'crashed', "
                        "now() - interval '2 hours', now() - interval '1 hour')")
    assert warehouse.live_leases() == []
    assert load_new_manifests(corner.settings, s3=corner.s3, conn=corner.conn, schemas=corner.schemas).rows_merged == 1


def test_the_postgres_warehouse_refuses_a_connection_in_a_transaction(corner) -> None:  # noqa: ANN001
    import psycopg

    from warehouse.errors import WarehouseError

    with psycopg.connect(corner.settings.require("warehouse_dsn")) as conn, pytest.raises(WarehouseError,
                                                                                          match="autocommit"):
        PostgresWarehouse(conn, schemas=corner.schemas)


def test_a_manifest_rewritten_with_other_content_is_loaded_again(corner) -> None:  # noqa: ANN001
    key = write_lake_batch(corner.s3, corner.bucket, corner.prefix, [encounter("w1"), encounter("w2")])
    assert load_new_manifests(corner.settings, s3=corner.s3, conn=corner.conn,
                              schemas=corner.schemas) == LoadReport(1, 2, 2, 1)
    first_etag = corner.rows('select etag from "{lake}".load_audit')[0][0]
    assert first_etag == corner.s3.head_object(Bucket=corner.bucket, Key=key)["ETag"].strip('"')
    # Same key, other rows (a rewrite by the sink): loaded again, newest version kept.
    write_lake_batch(corner.s3, corner.bucket, corner.prefix,
                     [encounter("w1", source_version=2, outcome="referred"), encounter("w2")])
    assert load_new_manifests(corner.settings, s3=corner.s3, conn=corner.conn,
                              schemas=corner.schemas) == LoadReport(1, 2, 1, 1)
    audit = corner.rows('select manifest_key, etag, "rows", rows_merged from "{lake}".load_audit')
    assert len(audit) == 1 and audit[0][1] != first_etag and audit[0][2:] == (2, 1)
    assert lake_rows(corner) == [as_row(encounter("w1", source_version=2, outcome="referred")),
                                 as_row(encounter("w2"))]
