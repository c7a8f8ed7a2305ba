"""The Postgres sink against real Kafka and PostgreSQL: version-guarded upserts, records
PostgreSQL rejects, schema evolution, and exactness across kill -9."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import psycopg
import pytest

from daas.dead_letter import HEADER_PREFIX
from daas.errors import SchemaError
from schemas import AvroCodec
from sinks.base import SinkRunner
from sinks.postgres import PostgresSink
from tests.integration.sinks.conftest import PARTITIONS, SinkRun
from tests.integration.sinks.support import (
    clean_records,
    committed,
    encode,
    pg_ids,
    produce,
    read_topic,
    start_sink,
    wait_for,
)
from tests.unit.sinks.samples import current_schema, store_with


def run_pg(run: SinkRun, group: str, **sink_args: object) -> SinkRunner:
    runner = SinkRunner(run.settings, PostgresSink(run.settings, schema=run.pg_schema, **sink_args),  # type: ignore[arg-type]
                        topic=run.topics.clean_ops, group_id=group,
                        codec=AvroCodec(sink_args["store"]) if "store" in sink_args else None)  # type: ignore[arg-type]
    runner.run(stop_when_idle=2.0)
    return runner


def query(run: SinkRun, statement: str) -> list[tuple]:
    with psycopg.connect(run.settings.require("rds_dsn"), autocommit=True) as conn:
        return conn.execute(statement).fetchall()  # type: ignore[arg-type]


def test_the_newest_source_version_wins_and_replays_change_nothing(sink_run: SinkRun) -> None:
    records = clean_records(50, seed=21)
    produce(sink_run.settings, sink_run.topics.clean_ops, encode(records))
    run_pg(sink_run, f"{sink_run.name}-1")
    table = f'"{sink_run.pg_schema}".encounters'
    before = dict(query(sink_run, f"select record_id::text, updated_at from {table}"))  # noqa: S608 - identifiers this test created
    newer = {**records[0], "source_version": records[0]["source_version"] + 1, "outcome": "referred"}
    older = {**records[1], "source_version": records[1]["source_version"] - 1, "outcome": "died"}
    produce(sink_run.settings, sink_run.topics.clean_ops, encode([newer, older, *records[2:5]]))
    run_pg(sink_run, f"{sink_run.name}-1")
    after = dict(query(sink_run, f"select record_id::text, updated_at from {table}"))  # noqa: S608 - identifiers this test created
    outcomes = dict(query(sink_run, f"select record_id::text, outcome from {table}"))  # noqa: S608 - identifiers this test created
    ids = [str(r["record_id"]) for r in records]
    assert sorted(after) == sorted(ids)
    assert (outcomes[ids[0]], outcomes[ids[1]]) == ("referred", records[1]["outcome"])
    assert [i for i in ids if after[i] != before[i]] == [ids[0]]  # only the changed row moved the cursor
    lineage = query(sink_run, f"select source_topic, count(*) from {table} group by 1")  # noqa: S608 - identifiers this test created
    assert lineage == [(sink_run.topics.clean_ops, 50)]


def test_a_record_postgresql_rejects_is_dead_lettered_and_the_rest_lands(sink_run: SinkRun) -> None:
    records = clean_records(400, seed=22)
    poisoned = {**records[7], "district": "Ikeja\x00"}  # text may not hold NUL in PostgreSQL
    values = encode([*records[:7], poisoned, *records[8:]])
    produce(sink_run.settings, sink_run.topics.clean_ops, values, partition=0)
    runner = run_pg(sink_run, sink_run.name)
    assert (runner.stats.written, runner.stats.dead_lettered) == (399, 1)
    assert pg_ids(sink_run.settings, sink_run.pg_schema) == sorted(str(r["record_id"]) for i, r in enumerate(records)
                                                                    if i != 7)
    (dead,) = read_topic(sink_run.settings, sink_run.topics.dlq, PARTITIONS)
    headers = {k: v.decode() for k, v in dead.headers()}
    assert dead.value() == values[7][1]
    assert headers[f"{HEADER_PREFIX}reason"] == "rejected_by_postgres"
    assert headers[f"{HEADER_PREFIX}stage"] == "postgres-sink"
    assert headers[f"{HEADER_PREFIX}source.offset"] == "7"
    assert "0x00" in json.loads(headers[f"{HEADER_PREFIX}reasons"])[0]["message"]
    assert committed(sink_run.settings, sink_run.name, sink_run.topics.clean_ops, PARTITIONS)[0] == 400


def test_a_new_optional_field_adds_a_nullable_column(sink_run: SinkRun, tmp_path: Path) -> None:
    produce(sink_run.settings, sink_run.topics.clean_ops, encode(clean_records(20, seed=23)))
    run_pg(sink_run, f"{sink_run.name}-v1")
    newer = current_schema()
    newer["fields"].append({"name": "referral_facility_id", "type": ["null", "string"], "default": None})
    store = store_with(tmp_path / "v2", newer, current_schema())
    fresh = clean_records(10, seed=24)
    produce(sink_run.settings, sink_run.topics.clean_ops,
            encode([{**r, "referral_facility_id": "NG-LA-IKJ-002"} for r in fresh], AvroCodec(store)))
    run_pg(sink_run, f"{sink_run.name}-v1", store=store)
    columns = dict(query(sink_run, "select column_name, is_nullable from information_schema.columns "  # noqa: S608 - identifiers this test created
                                   f"where table_schema = '{sink_run.pg_schema}' and table_name = 'encounters'"))
    assert columns["referral_facility_id"] == "YES"
    counts = query(sink_run, f'select referral_facility_id, count(*) from "{sink_run.pg_schema}".encounters '  # noqa: S608 - identifiers this test created
                             "group by 1 order by 1 nulls last")
    assert counts == [("NG-LA-IKJ-002", 10), (None, 20)]


@pytest.mark.parametrize(("change", "message"), [
    ("type", r"field 'age_years' needs column type text but .*encounters.age_years is integer"),
    ("required", r"field 'clinic_code' is required in the schema but .* has no column clinic_code and already "
                 r"holds rows"),
], ids=["type-change", "required-field"])
def test_an_incompatible_schema_change_stops_the_sink_naming_the_field(sink_run: SinkRun, tmp_path: Path,
                                                                       change: str, message: str) -> None:
    produce(sink_run.settings, sink_run.topics.clean_ops, encode(clean_records(5, seed=25)))
    run_pg(sink_run, sink_run.name)
    changed = current_schema()
    if change == "type":
        next(f for f in changed["fields"] if f["name"] == "age_years")["type"] = "string"
    else:
        changed["fields"].append({"name": "clinic_code", "type": "string"})
    store = store_with(tmp_path / "changed", changed)
    produce(sink_run.settings, sink_run.topics.clean_ops, encode(clean_records(1, seed=26)))
    with pytest.raises(SchemaError, match=message):
        run_pg(sink_run, sink_run.name, store=store)
    assert len(pg_ids(sink_run.settings, sink_run.pg_schema)) == 5  # nothing written under the bad schema


def test_kill_9_in_the_middle_of_writes_leaves_exactly_the_input(sink_run: SinkRun) -> None:
    records = clean_records(8000, seed=27)
    produce(sink_run.settings, sink_run.topics.clean_ops, encode(records))
    group = f"{sink_run.name}-pg"
    args = ["--group", group, "--pg-schema", sink_run.pg_schema, "--max-records", "300"]
    partial = []
    for attempt, writes in enumerate([4, 9, 6]):
        log = sink_run.log_dir / f"pg-{attempt}.log"
        proc = start_sink("postgres", sink_run.env, args, log)
        wait_for(f"{writes} writes", lambda log=log, writes=writes: log.read_text(errors="replace").count(" writing ")
                 >= writes, 60, 0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        partial.append(len(pg_ids(sink_run.settings, sink_run.pg_schema)))
    log = sink_run.log_dir / "pg-final.log"
    final = start_sink("postgres", sink_run.env, [*args, "--stop-when-idle", "3"], log)
    assert final.wait(timeout=120) == 0, log.read_text()[-3000:]
    assert 0 < partial[0] < len(records)
    assert pg_ids(sink_run.settings, sink_run.pg_schema) == sorted(str(r["record_id"]) for r in records)
    assert sum(committed(sink_run.settings, group, sink_run.topics.clean_ops, PARTITIONS)) == len(records)
