"""The Airbyte stand-in against real PostgreSQL: new and updated rows, never duplicated."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from psycopg import sql

from tests.integration.warehouse.conftest import schema_base
from tests.integration.warehouse.lake_files import encounter
from tests.integration.warehouse.rds_rows import create_rds_table, upsert
from warehouse.replicator import OVERLAP, replicate, replicate_encounters

COLUMNS = "source_key, source_version, severity, outcome, updated_at"


@pytest.fixture
def rds(endpoints, unique_name) -> Iterator[tuple[psycopg.Connection, psycopg.Connection, str, str]]:  # noqa: ANN001
    base = schema_base(unique_name, "rep")
    settings = endpoints.settings()
    with (psycopg.connect(settings.require("rds_dsn"), autocommit=True) as source,
          psycopg.connect(settings.require("warehouse_dsn"), autocommit=True) as warehouse):
        create_rds_table(source, f"{base}_src")
        yield source, warehouse, f"{base}_src", f"{base}_r"
        source.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(f"{base}_src")))
        warehouse.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(f"{base}_r")))


def rows(conn: psycopg.Connection, schema: str) -> list[tuple]:
    return conn.execute(sql.SQL(f"select {COLUMNS} from {{}} order by source_key").format(  # noqa: S608
        sql.Identifier(schema, "encounters"))).fetchall()


def test_new_and_updated_rows_arrive_once_with_their_newest_values(rds) -> None:  # noqa: ANN001
    source, warehouse, src, dst = rds
    upsert(source, src, [encounter(f"e{n}") for n in range(5)])

    first = replicate(source, warehouse, source_schema=src, target_schema=dst)
    assert (first.rows_read, first.rows_written) == (5, 5)
    assert rows(warehouse, dst) == rows(source, src)

    # A newer version of e2 (the sink moves updated_at), and a new record.
    upsert(source, src, [encounter("e2", source_version=2, severity="severe", outcome="admitted"), encounter("e5")],
           offset=5)
    second = replicate(source, warehouse, source_schema=src, target_schema=dst)
    assert second.rows_written == 2  # e2 updated, e5 inserted; re-read overlap rows change nothing
    replica = rows(warehouse, dst)
    assert replica == rows(source, src)
    assert [r[:4] for r in replica if r[0] == "e2"] == [("e2", 2, "severe", "admitted")]
    assert len(replica) == len({r[0] for r in replica}) == 6

    # Nothing changed: a rerun writes nothing and duplicates nothing.
    third = replicate(source, warehouse, source_schema=src, target_schema=dst)
    assert third.rows_written == 0 and rows(warehouse, dst) == replica
    state = warehouse.execute(sql.SQL("select stream, cursor_value from {}").format(
        sql.Identifier(dst, "replication_state"))).fetchall()
    assert state == [(f"{src}.encounters", max(r[4] for r in replica))]


def test_a_row_committed_late_within_the_overlap_is_still_copied(rds) -> None:  # noqa: ANN001
    source, warehouse, src, dst = rds
    upsert(source, src, [encounter("a1")])
    cursor = replicate(source, warehouse, source_schema=src, target_schema=dst).cursor
    # A transaction that began earlier commits now: its updated_at is behind the cursor.
    upsert(source, src, [encounter("late")])
    source.execute(sql.SQL("update {} set updated_at = %s where source_key = 'late'").format(
        sql.Identifier(src, "encounters")), (cursor - OVERLAP + timedelta(seconds=5),))
    replicate(source, warehouse, source_schema=src, target_schema=dst)
    assert [r[0] for r in rows(warehouse, dst)] == ["a1", "late"]


def test_an_updated_at_bump_alone_rewrites_the_row_and_the_int_api_still_counts_reads(rds) -> None:  # noqa: ANN001
    source, warehouse, src, dst = rds
    upsert(source, src, [encounter("u1")])
    source.execute(f'set search_path to "{src}"')
    assert replicate_encounters(source, warehouse, target_schema=dst) == 1
    source.execute(sql.SQL("update {} set outcome = 'referred', source_version = 9, updated_at = clock_timestamp() "
                           "where source_key = 'u1'").format(sql.Identifier(src, "encounters")))
    assert replicate_encounters(source, warehouse, target_schema=dst) == 1
    assert [r[:4] for r in rows(warehouse, dst)] == [("u1", 9, "mild", "referred")]
