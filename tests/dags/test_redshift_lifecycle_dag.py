"""redshift_lifecycle with ``dag.test()`` against moto's Redshift (the AWS double).

moto does not implement ``resize_cluster``; the resize run swaps the provider hook's
client for one wrapped in botocore's Stubber, which fails unless exactly the expected
calls and parameters arrive. The load checks are real: a lease row in the local
warehouse, or a running ``warehouse_copy`` run in Airflow's metadata DB.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import psycopg
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from psycopg import sql

CLUSTER = "daas-test"
BASE = {"node_type": "ra3.xlplus", "nodes": 2}
HEAVY = {"node_type": "ra3.xlplus", "nodes": 4}


@pytest.fixture
def cluster(airflow_env, stack_settings, unique_schema) -> Iterator[dict[str, Any]]:  # noqa: ANN001
    base = unique_schema("life")
    config = {"lake_schema": f"{base}_l", "rds_schema": f"{base}_r",
              "redshift": {"cluster_identifier": CLUSTER, "db_user": "loader", "aws_conn_id": "daas_aws_test",
                           "region_name": "eu-west-1", "base": BASE, "heavy": HEAVY}}
    airflow_env(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="eu-west-1",
                AIRFLOW_CONN_DAAS_AWS_TEST=json.dumps({"conn_type": "aws", "extra": {"region_name": "eu-west-1"}}),
                AIRFLOW_VAR_DAAS_WAREHOUSE=json.dumps(config))
    with mock_aws(), psycopg.connect(stack_settings.require("warehouse_dsn"), autocommit=True) as warehouse:
        client = boto3.client("redshift", region_name="eu-west-1")
        client.create_cluster(ClusterIdentifier=CLUSTER, ClusterType="multi-node", NodeType=BASE["node_type"],
                              NumberOfNodes=BASE["nodes"], MasterUsername="admin", MasterUserPassword="Not-a-real-1")
        yield {"client": client, "warehouse": warehouse, "lake": f"{base}_l"}
        for schema in (f"{base}_l", f"{base}_r"):
            warehouse.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))


def status(cluster: dict[str, Any]) -> str:
    return cluster["client"].describe_clusters(ClusterIdentifier=CLUSTER)["Clusters"][0]["ClusterStatus"]


def only(states: dict[str, str], *ran: str) -> dict[str, str]:
    """The run's states, with every task not in ``ran`` expected to be skipped."""
    return {task: ("success" if task in ran else "skipped") for task in states}


def test_pause_then_skip_when_already_paused_then_resume(cluster, run_dag) -> None:  # noqa: ANN001
    states = run_dag("redshift_lifecycle", conf={"action": "pause"})
    assert states == only(states, "plan", "check_pause", "pause_cluster", "wait_paused")
    assert status(cluster) == "paused"

    again = run_dag("redshift_lifecycle", conf={"action": "pause"})
    assert again == only(again, "plan", "check_pause")  # pause_cluster and wait_paused skipped
    assert status(cluster) == "paused"

    resumed = run_dag("redshift_lifecycle", conf={"action": "resume"})
    assert resumed == only(resumed, "plan", "check_resume", "resume_cluster", "wait_available")
    assert status(cluster) == "available"


def test_a_live_load_lease_refuses_the_pause_and_alerts(cluster, run_dag, airflow_env, webhook) -> None:  # noqa: ANN001
    from warehouse.postgres import PostgresWarehouse
    from warehouse.tables import WarehouseSchemas

    airflow_env(AIRFLOW_VAR_DAAS_ALERT_WEBHOOK_URL=webhook.url)
    warehouse = PostgresWarehouse(cluster["warehouse"], schemas=WarehouseSchemas(lake=cluster["lake"],
                                                                                 rds=cluster["lake"][:-1] + "r"))
    warehouse.ensure_tables()
    with warehouse.lease("loader-in-test:1:a", seconds=600):
        states = run_dag("redshift_lifecycle", conf={"action": "pause"}, retries=False)
    assert (states["check_pause"], states["pause_cluster"], states["wait_paused"]) == (
        "failed", "upstream_failed", "upstream_failed")
    assert status(cluster) == "available"
    assert webhook.wait()
    alert = webhook.received[0]["json"]["daas"]
    assert alert["task_id"] == "check_pause"
    assert alert["exception"].startswith("LoadInProgress: a warehouse load holds the load lease: loader-in-test:1:a")


@pytest.mark.parametrize(("dag_id", "refusal"), [
    ("warehouse_copy", "1 warehouse_copy run(s) are queued or running; not touching the cluster under a load"),
    ("rds_to_redshift_sync",
     "1 rds_to_redshift_sync run(s) are queued or running; not touching the cluster under an Airbyte sync"),
])
def test_a_running_load_or_sync_run_refuses_the_pause(cluster, run_dag, airflow_env, webhook, dag_id: str,  # noqa: ANN001
                                                      refusal: str) -> None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    airflow_env(AIRFLOW_VAR_DAAS_ALERT_WEBHOOK_URL=webhook.url)
    run_id = f"manual__working_{datetime.now(tz=UTC).timestamp()}"
    with create_session() as session:
        session.add(DagRun(dag_id=dag_id, run_id=run_id, run_type=DagRunType.MANUAL,
                           state=DagRunState.RUNNING, run_after=datetime.now(tz=UTC),
                           triggered_by=DagRunTriggeredByType.TEST))
    try:
        states = run_dag("redshift_lifecycle", conf={"action": "pause"}, retries=False)
    finally:
        with create_session() as session:
            session.query(DagRun).filter(DagRun.run_id == run_id).delete()
    assert (states["check_pause"], states["pause_cluster"]) == ("failed", "upstream_failed")
    assert status(cluster) == "available"
    assert webhook.wait()
    assert webhook.received[0]["json"]["daas"]["exception"] == f"LoadInProgress: {refusal}"


def test_resize_down_is_skipped_at_the_base_size(cluster, run_dag) -> None:  # noqa: ANN001
    states = run_dag("redshift_lifecycle", conf={"action": "resize_down"})
    assert states == only(states, "plan", "check_resize")


def test_resize_up_sends_exactly_the_heavy_size_and_waits_for_it(cluster, run_dag, monkeypatch) -> None:  # noqa: ANN001
    from airflow.providers.amazon.aws.hooks.redshift_cluster import RedshiftHook

    client = boto3.client("redshift", region_name="eu-west-1")
    described = {"ClusterIdentifier": CLUSTER}

    def cluster_is(state: str, nodes: int) -> dict[str, Any]:
        return {"Clusters": [{"ClusterIdentifier": CLUSTER, "ClusterStatus": state, "NodeType": "ra3.xlplus",
                              "NumberOfNodes": nodes}]}

    with Stubber(client) as stub:
        stub.add_response("describe_clusters", cluster_is("available", 2), described)  # check_resize
        stub.add_response("resize_cluster", {"Cluster": {"ClusterIdentifier": CLUSTER, "ClusterStatus": "resizing"}},
                          {"ClusterIdentifier": CLUSTER, "ClusterType": "multi-node", "NodeType": "ra3.xlplus",
                           "NumberOfNodes": 4, "Classic": False})
        stub.add_response("describe_clusters", cluster_is("available", 4), described)  # wait_resized
        stub.add_response("describe_clusters", cluster_is("available", 4), described)  # verify_size
        monkeypatch.setattr(RedshiftHook, "conn", property(lambda self: client))
        states = run_dag("redshift_lifecycle", conf={"action": "resize_up"})
        stub.assert_no_pending_responses()
    assert states == only(states, "plan", "check_resize", "resize_cluster", "wait_resized", "verify_size")


def test_loads_and_syncs_skip_not_fail_while_the_cluster_is_paused(cluster, run_dag, airflow_env) -> None:  # noqa: ANN001
    config = {"target": "redshift", "rds_sync": "airbyte", "airbyte_connection_id": "6b7c1f0e-2d3a-4e5f-8a9b-0c1d2e3f4a5b",
              "redshift": {"cluster_identifier": CLUSTER, "db_user": "loader", "aws_conn_id": "daas_aws_test",
                           "region_name": "eu-west-1"}}
    airflow_env(AIRFLOW_VAR_DAAS_WAREHOUSE=json.dumps(config))
    cluster["client"].pause_cluster(ClusterIdentifier=CLUSTER)

    copy = run_dag("warehouse_copy", retries=False)
    assert copy == {"warehouse_available": "success", "load_manifests": "skipped", "publish_analytics": "skipped"}
    sync = run_dag("rds_to_redshift_sync", retries=False)
    assert sync == only(sync, "warehouse_available")  # neither Airbyte nor the replicator ran

    cluster["client"].resume_cluster(ClusterIdentifier=CLUSTER)
    assert status(cluster) == "available"
    # Available again: the sync goes on to choose its path (Airbyte here, whose
    # connection is not configured in this test, so the trigger itself fails).
    resumed = run_dag("rds_to_redshift_sync", retries=False)
    assert (resumed["warehouse_available"], resumed["choose_sync"]) == ("success", "success")
    assert resumed["replicate_locally"] == "skipped"
