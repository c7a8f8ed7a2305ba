"""rds_to_redshift_sync: the local replicator path against the real stack, and the Airbyte
path against a local Airbyte API server (the only double; see airbyte_api.py)."""

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
AIRBYTE_TASKS = ("airbyte_trigger_sync", "airbyte_wait_for_sync")


@pytest.fixture
def rds(airflow_env, stack_settings, unique_schema) -> Iterator[dict[str, Any]]:  # noqa: ANN001
    base = unique_schema("sync")
    names = {"rds_source_schema": f"{base}_src", "rds_schema": f"{base}_r", "lake_schema": f"{base}_l"}
    airflow_env(AIRFLOW_VAR_DAAS_WAREHOUSE=json.dumps(names))
    with (psycopg.connect(stack_settings.require("rds_dsn"), autocommit=True) as source,
          psycopg.connect(stack_settings.require("warehouse_dsn"), autocommit=True) as warehouse):
        create_rds_table(source, names["rds_source_schema"])
        yield {"source": source, "warehouse": warehouse, **names}
        source.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(names["rds_source_schema"])))
        warehouse.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(names["rds_schema"])))


def replica(rds: dict[str, Any]) -> list[tuple]:
    return rds["warehouse"].execute(sql.SQL("select source_key, source_version, severity from {} order by 1").format(
        sql.Identifier(rds["rds_schema"], "encounters"))).fetchall()


def test_locally_the_replicator_copies_new_and_updated_rows_without_duplicates(rds, run_dag) -> None:  # noqa: ANN001
    upsert(rds["source"], rds["rds_source_schema"], [encounter(f"s{n}") for n in range(4)])
    states = run_dag("rds_to_redshift_sync")
    assert states == {"warehouse_available": "success", "choose_sync": "success", "replicate_locally": "success",
                      "airbyte_trigger_sync": "skipped", "airbyte_wait_for_sync": "skipped"}
    assert replica(rds) == [(f"s{n}", 1, "mild") for n in range(4)]

    upsert(rds["source"], rds["rds_source_schema"], [encounter("s1", source_version=2, severity="severe")])
    assert run_dag("rds_to_redshift_sync")["replicate_locally"] == "success"
    assert run_dag("rds_to_redshift_sync")["replicate_locally"] == "success"
    assert replica(rds) == [("s0", 1, "mild"), ("s1", 2, "severe"), ("s2", 1, "mild"), ("s3", 1, "mild")]


@pytest.fixture
def airbyte(airflow_env) -> Any:  # noqa: ANN001
    def start(statuses: list[str]) -> AirbyteApi:
        api = AirbyteApi(statuses)
        airflow_env(AIRFLOW_CONN_AIRBYTE_DEFAULT=api.connection_json(),
                    AIRFLOW_VAR_DAAS_WAREHOUSE=json.dumps({"rds_sync": "airbyte", "airbyte_connection_id": CONNECTION_ID}))
        return api

    return start


def test_on_aws_airbyte_is_triggered_asynchronously_and_awaited_deferred(airbyte, run_dag) -> None:  # noqa: ANN001
    api = airbyte(["running", "succeeded"])
    with api.running():
        states = run_dag("rds_to_redshift_sync")
    assert states == {"warehouse_available": "success", "choose_sync": "success", "replicate_locally": "skipped",
                      "airbyte_trigger_sync": "success", "airbyte_wait_for_sync": "success"}
    # The operator starts the job once; the sensor looks once, defers, the trigger sees it
    # succeed, and the resumed sensor (provider 5.2.3) reads the job once more.
    # (The SDK caches its OAuth token per process, so one token request serves them all here.)
    assert api.calls()[0] == ("POST", "/v1/applications/token")
    assert [c for c in api.calls() if c[1] != "/v1/applications/token"] == [
        ("POST", "/v1/jobs"), ("GET", f"/v1/jobs/{JOB_ID}"), ("GET", f"/v1/jobs/{JOB_ID}"), ("GET", f"/v1/jobs/{JOB_ID}")]
    [create] = [r for r in api.requests if r["path"] == "/v1/jobs"]
    assert create["body"] == {"connectionId": CONNECTION_ID, "jobType": "sync"}
    assert all(r["authorization"] == f"Bearer {TOKEN}" for r in api.requests if r["path"].startswith("/v1/jobs"))


def test_a_failed_airbyte_job_fails_the_sensor_and_alerts(airbyte, run_dag, airflow_env, webhook) -> None:  # noqa: ANN001
    airflow_env(AIRFLOW_VAR_DAAS_ALERT_WEBHOOK_URL=webhook.url)
    api = airbyte(["running", "failed"])
    with api.running():
        states = run_dag("rds_to_redshift_sync", retries=False)
    assert states["airbyte_trigger_sync"] == "success" and states["airbyte_wait_for_sync"] == "failed"
    assert webhook.wait()
    alert = webhook.received[0]["json"]["daas"]
    assert (alert["dag_id"], alert["task_id"]) == ("rds_to_redshift_sync", "airbyte_wait_for_sync")
    assert f"Job run {JOB_ID} has failed" in alert["exception"]
