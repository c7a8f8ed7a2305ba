"""Warehouse load: manifests the S3 sink committed → staging → MERGE, recorded once.

Locally the warehouse is PostgreSQL standing in for Redshift: the loader reads each
manifest's Parquet objects from S3 and COPYs them into a staging table, then MERGEs
into ``lake.encounters`` on ``record_id`` and records the manifest in
``lake.load_audit`` in the same transaction. A manifest already in the audit table
is never loaded again, so running the loader twice loads nothing new.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import psycopg
import pyarrow.parquet as pq
from psycopg import sql

from daas.settings import Settings
from sinks.avro_types import columns
from schemas import CLEAN_ENCOUNTER, SchemaStore

__all__ = ["LoadReport", "ensure_lake_tables", "load_new_manifests"]

MANIFEST_DIR = "_manifests"


@dataclass(frozen=True)
class LoadReport:
    manifests_loaded: int
    rows_staged: int
    rows_merged: int


def _columns() -> list[Any]:
    return columns(SchemaStore.default().current(CLEAN_ENCOUNTER).raw)


def ensure_lake_tables(conn: psycopg.Connection) -> None:
    defs = sql.SQL(", ").join(
        sql.SQL("{} {}{}").format(sql.Identifier(c.name), sql.SQL(c.sql_type), sql.SQL("" if c.nullable else " not null"))
        for c in _columns())
    with conn.transaction():
        conn.execute("create schema if not exists lake")
        conn.execute(sql.SQL("create table if not exists lake.encounters ({}, loaded_at timestamptz not null "
                             "default now(), primary key (record_id))").format(defs))
        conn.execute("create table if not exists lake.load_audit (manifest_key text primary key, "
                     "loaded_at timestamptz not null default now(), objects integer not null, rows integer not null)")


def _manifest_keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/{MANIFEST_DIR}/"):
        keys.extend(obj["Key"] for obj in page.get("Contents", []))
    return sorted(keys)


def _merge_sql(names: list[str]) -> sql.Composed:
    cols = sql.SQL(", ").join(map(sql.Identifier, names))
    sets = sql.SQL(", ").join(sql.SQL("{} = s.{}").format(sql.Identifier(n), sql.Identifier(n))
                              for n in names if n != "record_id")
    values = sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(n)) for n in names)
    return sql.SQL(
        "merge into lake.encounters t using (select distinct on (record_id) * from _stage "
        "order by record_id, source_version desc) s on t.record_id = s.record_id "
        "when matched and t.source_version < s.source_version then update set {sets}, loaded_at = now() "
        "when not matched then insert ({cols}) values ({values})"
    ).format(sets=sets, cols=cols, values=values)


def load_new_manifests(settings: Settings, *, s3: Any, conn: psycopg.Connection) -> LoadReport:
    """Load every committed manifest not yet in the audit table; one transaction each."""
    ensure_lake_tables(conn)
    prefix = settings.s3_prefix.strip("/")
    loaded = {row[0] for row in conn.execute("select manifest_key from lake.load_audit")}
    names = [c.name for c in _columns()]
    report = LoadReport(0, 0, 0)
    for key in _manifest_keys(s3, settings.s3_bucket, prefix):
        if key in loaded:
            continue
        manifest = json.loads(s3.get_object(Bucket=settings.s3_bucket, Key=key)["Body"].read())
        urls = [e["url"] for e in manifest["entries"]]
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("create temp table _stage (like lake.encounters including defaults) on commit drop")
            staged = 0
            with cur.copy(sql.SQL("copy _stage ({}) from stdin").format(
                    sql.SQL(", ").join(map(sql.Identifier, names)))) as copy:
                for url in urls:
                    bucket, _, obj_key = url.removeprefix("s3://").partition("/")
                    table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=obj_key)["Body"].read()),
                                          columns=names)
                    for row in zip(*(table.column(n).to_pylist() for n in names), strict=True):
                        copy.write_row(row)
                        staged += 1
            cur.execute(_merge_sql(names))
            merged = cur.rowcount
            cur.execute("insert into lake.load_audit (manifest_key, objects, rows) values (%s, %s, %s)",
                        (key, len(urls), staged))
        report = LoadReport(report.manifests_loaded + 1, report.rows_staged + staged, report.rows_merged + merged)
    return report
