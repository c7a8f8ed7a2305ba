"""rds_to_redshift_sync: the local replicator path against the real stack, and the Airbyte
path against a local Airbyte API server (the only double; see airbyte_api.py). A sync that
wrote rows is published into the run's own warehouse schemas."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.dags.airbyte_api import JOB_ID, TOKEN, AirbyteApi
from tests.integration.warehouse.lake_files import encounter
from tests.integration.warehouse.rds_rows import create_rds_table, upsert

CONNECTION_ID = "6b7c1f0e-2d3a-4e5f-8a9b-0c1d2e3f4a5b"
SYNCED_AND_PUBLISHED = {"warehouse_available": "success", "choose_sync": "success", "replicate_locally": "success",
                        "airbyte_trigger_sync": "skipped", "airbyte_wait_for_sync": "skipped",
                        "sync_wrote_rows": "success", "publish_analytics": "success"}


@pytest.fixture
def warehouse(airflow_env, stack_settings, unique_schema) -> Iterator[dict[str, Any]]:  # noqa: ANN001
    """This test's schemas, in the Variable and dropped afterwards (the source is created by ``rds``)."""
    base = unique_schema("sync")
    names = {"rds_source_schema": f"{base}_src", "rds_schema": f"{base}_r", "lake_schema": f"{base}_l",
             "analytics_schema": f"{base}_a", "published_schema": f"{base}_p"}
    airflow_env(AIRFLOW_VAR_DAAS_WAREHOUSE=json.dumps(names))
    with psycopg.connect(stack_settings.require("warehouse_dsn"), autocommit=True) as conn:
        yield {"warehouse": conn, **names}
        for key in ("rds_schema", "lake_schema", "analytics_schema", "published_schema"):
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(names[key])))


@pytest.fixture
def rds(warehouse, stack_settings) -> Iterator[dict[str, Any]]:  # noqa: ANN001
    with psycopg.connect(stack_settings.require("rds_dsn"), autocommit=True) as source:
        create_rds_table(source, warehouse["rds_source_schema"])
        yield {"source": source, **warehouse}
        source.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(warehouse["rds_source_schema"])))


def replica(rds: dict[str, Any]) -> list[tuple]:
    return rds["warehouse"].execute(sql.SQL("select source_key, source_version, severity from {} order by 1").format(
        sql.Identifier(rds["rds_schema"], "encounters"))).fetchall()


def published(schemas: dict[str, Any]) -> list[tuple] | None:
    """Partners' view of country counts: (country, week, group, cases); None if never published."""
    view = sql.Identifier(schemas["published_schema"], "weekly_cases_country")
    conn = schemas["warehouse"]
    if conn.execute("select to_regclass(%s)", [f"{schemas['published_schema']}.weekly_cases_country"]).fetchone()[0] \
            is None:
        return None
    return conn.execute(sql.SQL("select country_code, epi_week, diagnosis_group, cases from {} order by 1, 2, 3")
                        .format(view)).fetchall()


def test_locally_the_replicator_copies_new_and_updated_rows_without_duplicates(rds, run_dag) -> None:  # noqa: ANN001
    upsert(rds["source"], rds["rds_source_schema"], [encounter(f"s{n}") for n in range(6)])
    assert run_dag("rds_to_redshift_sync") == SYNCED_AND_PUBLISHED
    assert replica(rds) == [(f"s{n}", 1, "mild") for n in range(6)]

    upsert(rds["source"], rds["rds_source_schema"], [encounter("s1", source_version=2, severity="severe")])
    assert run_dag("rds_to_redshift_sync")["replicate_locally"] == "success"
    assert run_dag("rds_to_redshift_sync")["replicate_locally"] == "success"
    assert replica(rds) == [("s0", 1, "mild"), ("s1", 2, "severe")] + [(f"s{n}", 1, "mild") for n in range(2, 6)]


def test_a_sync_that_wrote_rows_republishes_and_one_that_wrote_none_does_not(rds, run_dag) -> None:  # noqa: ANN001
    upsert(rds["source"], rds["rds_source_schema"], [encounter(f"p{n}") for n in range(6)])
    assert run_dag("rds_to_redshift_sync") == SYNCED_AND_PUBLISHED
    assert published(rds) == [("NG", "2026W47", "malaria", 6)]

    nothing_new = run_dag("rds_to_redshift_sync")
    assert (nothing_new["sync_wrote_rows"], nothing_new["publish_analytics"]) == ("success", "skipped")

    # The published views are a snapshot: new rows reach them with the next sync's publish.
    upsert(rds["source"], rds["rds_source_schema"], [encounter("p6"), encounter("p7")])
    assert published(rds) == [("NG", "2026W47", "malaria", 6)]
    assert run_dag("rds_to_redshift_sync") == SYNCED_AND_PUBLISHED
    assert published(rds) == [("NG", "2026W47", "malaria", 8)]


def test_a_publish_waits_for_a_running_load_and_says_why(rds, run_dag, stack_settings, airflow_env,  # noqa: ANN001
                                                       webhook) -> None:  # noqa: ANN001
    from warehouse import jobs
    from warehouse.config import WarehouseConfig

    airflow_env(AIRFLOW_VAR_DAAS_ALERT_WEBHOOK_URL=webhook.url)
    upsert(rds["source"], rds["rds_source_schema"], [encounter(f"l{n}") for n in range(6)])
    config = WarehouseConfig(**{k: v for k, v in rds.items() if k.endswith("_schema")})
    with jobs.open_warehouse(config, stack_settings) as target:
        target.ensure_tables()
        with target.lease(holder="warehouse_copy load"):
            states = run_dag("rds_to_redshift_sync", retries=False)
    assert (states["replicate_locally"], states["sync_wrote_rows"], states["publish_analytics"]) \
        == ("success", "success", "failed")
    assert published(rds) is None  # nothing published beside the load
    assert webhook.wait()
    [alert] = webhook.received
    assert alert["json"]["daas"]["task_id"] == "publish_analytics"
    assert "LoadInProgress" in alert["json"]["daas"]["exception"]
    assert "warehouse_copy load" in alert["json"]["daas"]["exception"]


@pytest.fixture
def airbyte(airflow_env, warehouse) -> Any:  # noqa: ANN001
    def start(statuses: list[str], rows_synced: int | None = None) -> AirbyteApi:
        api = AirbyteApi(statuses, rows_synced=rows_synced)
        variable = {**{k: v for k, v in warehouse.items() if k.endswith("_schema")},
                    "rds_sync": "airbyte", "airbyte_connection_id": CONNECTION_ID}
        airflow_env(AIRFLOW_CONN_AIRBYTE_DEFAULT=api.connection_json(),
                    AIRFLOW_VAR_DAAS_WAREHOUSE=json.dumps(variable))
        return api

    return start


def test_on_aws_airbyte_is_triggered_asynchronously_and_awaited_deferred(airbyte, warehouse,  # noqa: ANN001
                                                                          run_dag) -> None:  # noqa: ANN001
    api = airbyte(["running", "succeeded"], rows_synced=12)
    with api.running():
        states = run_dag("rds_to_redshift_sync")
    assert states == {"warehouse_available": "success", "choose_sync": "success", "replicate_locally": "skipped",
                      "airbyte_trigger_sync": "success", "airbyte_wait_for_sync": "success",
                      "sync_wrote_rows": "success", "publish_analytics": "success"}
    # The operator starts the job once; the sensor looks once, defers, the trigger sees it
    # succeed, and the resumed sensor (provider 5.2.3) reads the job once more; then
    # sync_wrote_rows reads its rowsSynced.
    # (The SDK caches its OAuth token per process, so one token request serves them all here.)
    assert api.calls()[0] == ("POST", "/v1/applications/token")
    assert [c for c in api.calls() if c[1] != "/v1/applications/token"] == [
        ("POST", "/v1/jobs"), *[("GET", f"/v1/jobs/{JOB_ID}")] * 4]
    [create] = [r for r in api.requests if r["path"] == "/v1/jobs"]
    assert create["body"] == {"connectionId": CONNECTION_ID, "jobType": "sync"}
    assert all(r["authorization"] == f"Bearer {TOKEN}" for r in api.requests if r["path"].startswith("/v1/jobs"))
    assert published(warehouse) == []  # published (the replica is empty here)


@pytest.mark.parametrize(("rows_synced", "publish"), [(0, "skipped"), (None, "success")])
def test_an_airbyte_job_publishes_unless_it_reports_no_rows(airbyte, warehouse, run_dag, rows_synced,  # noqa: ANN001
                                                            publish) -> None:
    api = airbyte(["succeeded"], rows_synced=rows_synced)
    with api.running():
        states = run_dag("rds_to_redshift_sync")
    assert (states["airbyte_wait_for_sync"], states["sync_wrote_rows"], states["publish_analytics"]) \
        == ("success", "success", publish)
    assert (published(warehouse) is None) is (publish == "skipped")


def test_a_failed_airbyte_job_fails_the_sensor_and_alerts(airbyte, run_dag, airflow_env, webhook) -> None:  # noqa: ANN001
    airflow_env(AIRFLOW_VAR_DAAS_ALERT_WEBHOOK_URL=webhook.url)
    api = airbyte(["running", "failed"])
    with api.running():
        states = run_dag("rds_to_redshift_sync", retries=False)
    assert states["airbyte_trigger_sync"] == "success" and states["airbyte_wait_for_sync"] == "failed"
    assert (states["sync_wrote_rows"], states["publish_analytics"]) == ("upstream_failed", "upstream_failed")
    assert webhook.wait()
    alert = webhook.received[0]["json"]["daas"]
    assert (alert["dag_id"], alert["task_id"]) == ("rds_to_redshift_sync", "airbyte_wait_for_sync")
    assert f"Job run {JOB_ID} has failed" in alert["exception"]
