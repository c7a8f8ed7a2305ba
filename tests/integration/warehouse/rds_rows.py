"""RDS ``encounters`` rows for replication tests, laid out as the Postgres sink lays them out
(Avro-derived columns, Kafka lineage, ``updated_at`` moved on every change)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from schemas.columns import encounter_columns


def create_rds_table(conn: psycopg.Connection, schema: str) -> None:
    defs = sql.SQL(", ").join(sql.SQL("{} {}{}").format(sql.Identifier(c.name), sql.SQL(c.sql_type),
                                                        sql.SQL("" if c.nullable else " not null"))
                              for c in encounter_columns())
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("create table {} ({}, updated_at timestamptz not null default clock_timestamp(), "
                         "primary key (record_id))").format(sql.Identifier(schema, "encounters"), defs))


def upsert(conn: psycopg.Connection, schema: str, records: list[dict[str, Any]], *, offset: int = 0) -> None:
    """Insert or update (newer source_version only), moving ``updated_at`` like the sink does."""
    names = [c.name for c in encounter_columns()]
    cols = sql.SQL(", ").join(map(sql.Identifier, names))
    sets = sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(sql.Identifier(n)) for n in names[1:])
    table = sql.Identifier(schema, "encounters")
    query = sql.SQL("insert into {t} ({c}) values ({v}) on conflict (record_id) do update set {s}, "
                    "updated_at = clock_timestamp() where {t}.source_version < excluded.source_version").format(
        t=table, c=cols, v=sql.SQL(", ").join(sql.Placeholder() * len(names)), s=sets)
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(query, [tuple(r[n] for n in names[:-3]) + ("health.clean.ops.v1", 0, offset + i)
                                for i, r in enumerate(records)])
