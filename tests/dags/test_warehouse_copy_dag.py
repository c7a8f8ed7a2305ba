"""warehouse_copy end to end with ``dag.test()``: real Parquet on S3Proxy into the real warehouse."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.integration.warehouse.lake_files import delete_prefix, encounter, ensure_bucket, write_lake_batch
from warehouse.clients import s3_client

LOADED = {"warehouse_available": "success", "load_manifests": "success", "publish_analytics": "success"}


@pytest.fixture
def lake(airflow_env, stack_settings, unique_schema) -> Iterator[dict[str, Any]]:  # noqa: ANN001
    base = unique_schema("wc")
    prefix = base.replace("_", "-")
    schemas = {"lake_schema": f"{base}_l", "rds_schema": f"{base}_r", "analytics_schema": f"{base}_a",
               "published_schema": f"{base}_p"}
    airflow_env(DAAS_S3_PREFIX=prefix, AIRFLOW_VAR_DAAS_WAREHOUSE=json.dumps(schemas))
    s3 = s3_client(stack_settings)
    ensure_bucket(s3, stack_settings.s3_bucket)
    with psycopg.connect(stack_settings.require("warehouse_dsn"), autocommit=True) as conn:
        yield {"s3": s3, "bucket": stack_settings.s3_bucket, "prefix": prefix, "conn": conn, **schemas}
        for name in schemas.values():
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(name)))
    delete_prefix(s3, stack_settings.s3_bucket, prefix)


def test_warehouse_copy_loads_real_parquet_once_and_publishes(lake, run_dag) -> None:  # noqa: ANN001
    records = [encounter(f"wc{n}", country_code=c) for n, c in enumerate(["NG"] * 6 + ["KE"] * 3)]
    write_lake_batch(lake["s3"], lake["bucket"], lake["prefix"], records[:5], partition=0, first_offset=0)
    write_lake_batch(lake["s3"], lake["bucket"], lake["prefix"], records[5:], partition=1, first_offset=40)

    assert run_dag("warehouse_copy") == LOADED
    lake_table = sql.Identifier(lake["lake_schema"], "encounters")
    keys = lake["conn"].execute(sql.SQL("select source_key from {} order by 1").format(lake_table)).fetchall()
    assert [k for (k,) in keys] == sorted(r["source_key"] for r in records)
    audit = lake["conn"].execute(sql.SQL('select count(*), sum("rows") from {}').format(
        sql.Identifier(lake["lake_schema"], "load_audit"))).fetchone()
    assert audit == (2, 9)
    published = lake["conn"].execute(sql.SQL("select sum(cases) from {}").format(
        sql.Identifier(lake["analytics_schema"], "weekly_cases_country"))).fetchone()
    assert published == (9,)
    first_loaded = lake["conn"].execute(sql.SQL("select max(loaded_at) from {}").format(lake_table)).fetchone()

    # A second run finds nothing new: no row touched, no audit row added.
    assert run_dag("warehouse_copy") == LOADED
    assert lake["conn"].execute(sql.SQL('select count(*), sum("rows") from {}').format(
        sql.Identifier(lake["lake_schema"], "load_audit"))).fetchone() == (2, 9)
    assert lake["conn"].execute(sql.SQL("select count(*), max(loaded_at) from {}").format(lake_table)).fetchone() \
        == (9, first_loaded[0])


def test_a_bad_manifest_fails_the_run_without_retrying_and_alerts(lake, run_dag, airflow_env, webhook) -> None:  # noqa: ANN001
    airflow_env(AIRFLOW_VAR_DAAS_ALERT_WEBHOOK_URL=webhook.url)
    lake["s3"].put_object(Bucket=lake["bucket"], Key=f"{lake['prefix']}/_manifests/broken.manifest.json",
                          Body=b'{"entries": [{"url": "s3://daas-lake/x.parquet"}]}')
    write_lake_batch(lake["s3"], lake["bucket"], lake["prefix"], [encounter(f"ok-{uuid.uuid4().hex}")])

    states = run_dag("warehouse_copy")  # the DAG's own retries: a fatal error must not use them
    assert states == {"warehouse_available": "success", "load_manifests": "failed",
                      "publish_analytics": "upstream_failed"}
    assert webhook.wait()
    [alert] = webhook.received
    assert alert["json"]["daas"]["task_id"] == "load_manifests"
    assert alert["json"]["daas"]["try_number"] == 1
    assert "AirflowFailException: ManifestLoadFailed: 1 manifest(s) could not be loaded (the other 1 were)" \
        in alert["json"]["daas"]["exception"]
    loaded = lake["conn"].execute(sql.SQL("select count(*) from {}").format(
        sql.Identifier(lake["lake_schema"], "encounters"))).fetchone()
    assert loaded == (1,)


def test_the_publish_waits_for_a_running_load_or_publish(lake, run_dag, stack_settings, airflow_env,  # noqa: ANN001
                                                          webhook) -> None:  # noqa: ANN001
    """rds_to_redshift_sync publishes too; two publishes at once deadlock on PostgreSQL and
    abort on Redshift, so each holds the load lease (its own run's load has released it)."""
    from warehouse import jobs
    from warehouse.config import WarehouseConfig

    airflow_env(AIRFLOW_VAR_DAAS_ALERT_WEBHOOK_URL=webhook.url)
    config = WarehouseConfig(**{k: v for k, v in lake.items() if k.endswith("_schema")})
    with jobs.open_warehouse(config, stack_settings) as target:
        target.ensure_tables()
        with target.lease(holder="rds_to_redshift_sync publish"):
            states = run_dag("warehouse_copy", retries=False, only=["publish_analytics"])
    assert states == {"publish_analytics": "failed"}
    assert webhook.wait()
    [alert] = webhook.received
    assert "LoadInProgress" in alert["json"]["daas"]["exception"]
    assert "rds_to_redshift_sync publish" in alert["json"]["daas"]["exception"]
    assert lake["conn"].execute("select to_regclass(%s)", [f"{lake['published_schema']}.weekly_cases_country"]) \
        .fetchone() == (None,)
