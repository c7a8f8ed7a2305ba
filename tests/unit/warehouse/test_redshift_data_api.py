"""The Redshift Data API path, call by call, with botocore's Stubber.

There is no Redshift here and moto does not implement BatchExecuteStatement, so the
Stubber is the double: it fails the test unless the exact parameters are sent.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from daas.errors import ConfigurationError
from warehouse.errors import StatementFailed, WarehouseUnavailable
from warehouse.manifests import Manifest, ManifestEntry
from warehouse.redshift import RedshiftDataApi, RedshiftWarehouse
from warehouse.statements import REDSHIFT, LakeStatements
from warehouse.tables import WarehouseSchemas

ROLE = "arn:aws:iam::123456789012:role/daas-redshift-copy"
TARGET = {"ClusterIdentifier": "daas-prod", "Database": "daas", "DbUser": "loader"}


@pytest.fixture
def client():  # noqa: ANN201
    c = boto3.client("redshift-data", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(c) as stub:
        c.stub = stub
        yield c
        stub.assert_no_pending_responses()


def api(client, **kw) -> RedshiftDataApi:  # noqa: ANN001
    return RedshiftDataApi(client, database="daas", cluster_identifier="daas-prod", db_user="loader",
                           poll_interval=0, sleep=lambda _: None, **kw)


def test_a_batch_runs_as_one_call_is_polled_and_returns_the_last_result(client) -> None:  # noqa: ANN001
    statements = ["LOCK x", "SELECT 1, 'a'"]
    client.stub.add_response("batch_execute_statement", {"Id": "b-1", "ClusterIdentifier": "daas-prod"},
                             {"Sqls": statements, "StatementName": "daas-warehouse", **TARGET})
    client.stub.add_response("describe_statement", {"Id": "b-1", "Status": "STARTED"}, {"Id": "b-1"})
    client.stub.add_response("describe_statement", {"Id": "b-1", "Status": "FINISHED", "SubStatements": [
        {"Id": "b-1:1", "Status": "FINISHED", "HasResultSet": False},
        {"Id": "b-1:2", "Status": "FINISHED", "HasResultSet": True}]}, {"Id": "b-1"})
    client.stub.add_response("get_statement_result", {
        "Records": [[{"longValue": 1}, {"stringValue": "a"}]], "NextToken": "t2"}, {"Id": "b-1:2"})
    client.stub.add_response("get_statement_result", {
        "Records": [[{"longValue": 2}, {"isNull": True}]]}, {"Id": "b-1:2", "NextToken": "t2"})
    assert api(client).run(statements) == [(1, "a"), (2, None)]


def test_a_failed_statement_is_fatal_and_names_the_statement(client) -> None:  # noqa: ANN001
    client.stub.add_response("batch_execute_statement", {"Id": "b-2"},
                             {"Sqls": ["A", "B"], "StatementName": "daas-warehouse", **TARGET})
    client.stub.add_response("describe_statement", {
        "Id": "b-2", "Status": "FAILED", "Error": "ERROR: Spectrum Scan Error",
        "SubStatements": [{"Id": "b-2:1", "Status": "FINISHED"},
                          {"Id": "b-2:2", "Status": "FAILED", "QueryString": "COPY ..."}]}, {"Id": "b-2"})
    with pytest.raises(StatementFailed, match=r"b-2:2: COPY \.\.\.: ERROR: Spectrum Scan Error"):
        api(client).run(["A", "B"])


def test_a_statement_past_its_timeout_is_cancelled_and_retryable(client) -> None:  # noqa: ANN001
    client.stub.add_response("batch_execute_statement", {"Id": "b-3"},
                             {"Sqls": ["A"], "StatementName": "daas-warehouse", **TARGET})
    client.stub.add_response("describe_statement", {"Id": "b-3", "Status": "STARTED"}, {"Id": "b-3"})
    client.stub.add_response("cancel_statement", {"Status": True}, {"Id": "b-3"})
    with pytest.raises(WarehouseUnavailable, match="still STARTED after -1s; cancelled"):
        api(client, timeout=-1).run(["A"])


def test_throttling_is_retryable_and_validation_errors_are_not(client) -> None:  # noqa: ANN001
    client.stub.add_client_error("batch_execute_statement", "ThrottlingException", "slow down")
    with pytest.raises(WarehouseUnavailable, match="busy or down"):
        api(client).run(["A"])
    client.stub.add_client_error("batch_execute_statement", "ValidationException", "too many statements")
    with pytest.raises(StatementFailed, match="refused"):
        api(client).run(["A"])


def test_the_redshift_warehouse_sends_the_whole_load_as_one_batch(client) -> None:  # noqa: ANN001
    key = "encounters/_manifests/health.clean.lake.v1+0000+00000000000000000007.manifest.json"
    manifest = Manifest("daas-lake", key, (ManifestEntry("s3://daas-lake/encounters/a.parquet", True, 10, 3),
                                           ManifestEntry("s3://daas-lake/encounters/b.parquet", True, 11, 2)))
    schemas = WarehouseSchemas(lake="lake")
    expected = LakeStatements(REDSHIFT, schemas).redshift_load(manifest.url, key, 2, ROLE)
    client.stub.add_response("batch_execute_statement", {"Id": "b-4"},
                             {"Sqls": expected, "StatementName": "daas-warehouse-load", **TARGET})
    subs = [{"Id": f"b-4:{n}", "Status": "FINISHED", "HasResultSet": n == len(expected)}
            for n in range(1, len(expected) + 1)]
    client.stub.add_response("describe_statement", {"Id": "b-4", "Status": "FINISHED", "SubStatements": subs},
                             {"Id": "b-4"})
    client.stub.add_response("get_statement_result", {
        "Records": [[{"longValue": 5}, {"longValue": 4}, {"longValue": 0}]]}, {"Id": f"b-4:{len(expected)}"})
    result = RedshiftWarehouse(api(client), iam_role_arn=ROLE, schemas=schemas).load_manifest(manifest)
    assert (result.objects, result.rows_staged, result.rows_merged, result.already_loaded) == (2, 5, 4, False)


def test_the_target_must_be_one_cluster_or_one_workgroup() -> None:
    with pytest.raises(ConfigurationError, match="exactly one"):
        RedshiftDataApi(object(), database="d")
    with pytest.raises(ConfigurationError, match="db_user or secret_arn"):
        RedshiftDataApi(object(), database="d", cluster_identifier="c")
    serverless = RedshiftDataApi(object(), database="d", workgroup_name="wg")
    assert serverless._target() == {"Database": "d", "WorkgroupName": "wg"}
