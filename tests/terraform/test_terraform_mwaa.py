"""MWAA as Terraform provisions it: the execution role allows what the DAGs' code calls,
the environment gets the project code, its requirements, its DAAS_* settings and the
Variable daas_warehouse, and the Airbyte destination writes the schema the warehouse reads."""

from __future__ import annotations

import ast
import json
import re
import tomllib

from daas.settings import Settings
from tests.terraform import tf_model
from tests.terraform.tf_cli import terraform_console
from warehouse.config import WarehouseConfig, load_config

MWAA = tf_model.TERRAFORM_DIR / "modules" / "mwaa"
MWAA_VARS = {
    "name_prefix": "daas-test", "subnet_ids": ["subnet-1", "subnet-2"], "security_group_id": "sg-1",
    "kms_key_arn": "arn:aws:kms:af-south-1:123456789012:key/k", "access_log_bucket_name": "logs",
    "access_log_prefix_root": "s3/", "redshift_cluster_arn": "arn:aws:redshift:af-south-1:123456789012:cluster:daas-test-warehouse",
    "redshift_cluster_identifier": "daas-test-warehouse", "redshift_database": "daas",
    "redshift_copy_role_arn": "arn:aws:iam::123456789012:role/daas-test-warehouse-copy",
    "redshift_sizes": {"base": {"node_type": "ra3.xlplus", "nodes": 2}, "heavy": {"node_type": "ra3.xlplus", "nodes": 4}},
    "airbyte_connection_id": "6b7c1f0e-2d3a-4e5f-8a9b-0c1d2e3f4a5b", "rds_schema": "rds",
    "lake_bucket_arn": "arn:aws:s3:::daas-test-lake", "lake_bucket_name": "daas-test-lake", "lake_prefix": "encounters",
}


def _statements(modules) -> dict[str, dict]:  # noqa: ANN001
    body = modules["mwaa"].one("data", "aws_iam_policy_document", "execution").body
    return {s["sid"]: s for s in tf_model.policy_statements(body)}


def _allowed(statements: dict[str, dict]) -> dict[str, list]:
    allowed: dict[str, list] = {}
    for statement in statements.values():
        for action in statement["actions"]:
            allowed.setdefault(action, []).extend(statement["resources"])
    return allowed


def _client_calls(path: str, receiver: str) -> set[str]:
    """boto3 operations called as ``<receiver>.<operation>(`` in a source file, in IAM spelling."""
    text = (tf_model.REPO_ROOT / path).read_text()
    calls = set(re.findall(rf"{receiver}\.([a-z_]+)\(", text)) - {"get_paginator"}
    return {"".join(part.title() for part in call.split("_")) for call in calls}


def test_the_execution_role_allows_every_data_api_call_the_warehouse_code_makes(modules) -> None:  # noqa: ANN001
    statements = _statements(modules)
    allowed = _allowed(statements)
    data_api = _client_calls("warehouse/redshift.py", r"self\.client")
    assert data_api == {"BatchExecuteStatement", "DescribeStatement", "CancelStatement", "GetStatementResult"}
    for operation in data_api:
        assert f"redshift-data:{operation}" in allowed, operation
    # Statements run on this cluster only; following them only for statements this role started.
    assert statements["RunWarehouseStatements"]["resources"] == ["${var.redshift_cluster_arn}"]
    [owner] = statements["FollowOwnWarehouseStatements"]["condition"]
    assert (owner["variable"], owner["values"]) == ("redshift-data:statement-owner-iam-userid", ["$${aws:userid}"])


def test_the_execution_role_gets_the_loader_credentials_and_runs_the_lifecycle(modules) -> None:  # noqa: ANN001
    statements = _statements(modules)
    credentials = statements["WarehouseLoaderCredentials"]
    assert credentials["actions"] == ["redshift:GetClusterCredentials"]
    assert [r.split(":")[-2] + ":" + r.split(":")[-1] for r in credentials["resources"]] == [
        "dbuser:${var.redshift_cluster_identifier}/${var.redshift_db_user}",
        "dbname:${var.redshift_cluster_identifier}/${var.redshift_database}"]
    lifecycle = _client_calls("warehouse/lifecycle.py", "client")
    assert lifecycle == {"DescribeClusters", "ResizeCluster"}
    needed = {f"redshift:{op}" for op in lifecycle} | {"redshift:PauseCluster", "redshift:ResumeCluster"}
    assert needed <= set(statements["RedshiftLifecycle"]["actions"])
    assert statements["RedshiftLifecycle"]["resources"] == ["${var.redshift_cluster_arn}"]


def test_the_variable_terraform_writes_is_one_the_dags_accept(terraform_env, tmp_path) -> None:  # noqa: ANN001
    # Only the region is known after apply (a data source); the rest is evaluated as is.
    variable = terraform_console("mwaa", 'merge(local.warehouse_variable, {redshift = merge('
                                 'local.warehouse_variable.redshift, {region_name = "af-south-1"})})',
                                 MWAA_VARS, terraform_env, tmp_path)
    config = load_config(json.dumps(variable))  # what runtime_config() does on MWAA
    assert (config.target, config.rds_sync, config.rds_schema) == ("redshift", "airbyte", "rds")
    redshift = config.require_redshift()
    assert (redshift.cluster_identifier, redshift.db_user) == ("daas-test-warehouse", "daas_loader")
    assert redshift.iam_role_arn == MWAA_VARS["redshift_copy_role_arn"]
    assert (redshift.base.nodes, redshift.heavy.nodes) == (2, 4)
    secret = tf_model.load_dir(MWAA).one("resource", "aws_secretsmanager_secret", "warehouse_variable").body
    assert secret["name"] == "${local.secrets_prefix}/variables/daas_warehouse"


def test_airbyte_writes_the_schema_the_warehouse_reads(modules) -> None:  # noqa: ANN001
    destination = modules["airbyte"].variables()["destination_schema"]["default"]
    assert destination == WarehouseConfig().rds_schema == "rds"
    mwaa_call = modules["platform"].one("module", "", "mwaa").body
    assert mwaa_call["rds_schema"] == "${module.airbyte.destination_schema}"
    assert modules["airbyte"].outputs()["destination_schema"]["value"] == "${var.destination_schema}"
    assert "var.rds_schema" in str(modules["mwaa"].locals()["warehouse_variable"])


def _project_packages() -> list[str]:
    return tf_model.load_dir(MWAA).locals()["project_packages"]


def _first_party_imports(start: list[str]) -> set[str]:
    """Top-level project packages reachable by imports (module- or function-level) from ``start`` files."""
    top_level = {p.name for p in tf_model.REPO_ROOT.iterdir() if (p / "__init__.py").is_file()}
    seen_files: set[str] = set()
    reached: set[str] = set()
    todo = list(start)
    while todo:
        path = todo.pop()
        if path in seen_files:
            continue
        seen_files.add(path)
        tree = ast.parse((tf_model.REPO_ROOT / path).read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            for name in names:
                if name.split(".")[0] not in top_level:
                    continue
                reached.add(name.split(".")[0])
                base = tf_model.REPO_ROOT / name.replace(".", "/")
                for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                    if candidate.is_file():
                        todo.append(str(candidate.relative_to(tf_model.REPO_ROOT)))
    return reached


def test_mwaa_gets_every_project_package_the_dags_import() -> None:
    dags = [str(p.relative_to(tf_model.REPO_ROOT)) for p in (tf_model.REPO_ROOT / "dags").glob("*.py")]
    reached = _first_party_imports(dags)
    assert {"warehouse", "daas"} <= reached
    assert reached <= set(_project_packages()), f"the DAGs import {sorted(reached)}; MWAA gets {_project_packages()}"
    objects = tf_model.load_dir(MWAA)
    assert objects.one("resource", "aws_s3_object", "dags").body["key"] == "dags/${each.key}"
    env = objects.one("resource", "aws_mwaa_environment", "this").body
    assert env["requirements_s3_object_version"] == "${aws_s3_object.requirements.version_id}"
    assert env["startup_script_s3_object_version"] == "${aws_s3_object.startup.version_id}"


def test_requirements_are_the_projects_for_the_pinned_airflow() -> None:
    lines = [line.strip() for line in (MWAA / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    project = tomllib.loads((tf_model.REPO_ROOT / "pyproject.toml").read_text())["project"]
    airflow = dict(r.split("==") for r in project["optional-dependencies"]["airflow"])
    version = tf_model.load_dir(MWAA).variables()["airflow_version"]["default"]
    assert airflow["apache-airflow"] == version
    # MWAA runs Airflow 3.0 on Python 3.12, and takes versions from Airflow's constraints.
    assert lines[0] == (f'--constraint "https://raw.githubusercontent.com/apache/airflow/constraints-{version}/'
                        'constraints-3.12.txt"')
    wanted = {re.split(r"[=<>~\[]", r)[0] for r in project["dependencies"]}
    wanted |= {name for name in airflow if name.startswith("apache-airflow-providers-")}
    assert {re.split(r"[=<>~\[]", line)[0] for line in lines[1:]} == wanted


def test_the_startup_script_exports_only_real_settings() -> None:
    text = (MWAA / "startup.sh.tftpl").read_text()
    exported = dict(re.findall(r"^export (DAAS_[A-Z0-9_]+)=(.*)$", text, flags=re.M))
    known = {f"DAAS_{name.upper()}" for name in Settings.model_fields}
    assert set(exported) <= known, sorted(set(exported) - known)
    assert exported["DAAS_LOCAL_MODE"] == "false"
    assert exported["DAAS_S3_BUCKET"] == "${bucket}" and exported["DAAS_S3_PREFIX"] == "${prefix}"
