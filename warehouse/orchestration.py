"""What the DAG files share: task defaults, run-time config, AWS clients, job runner.

Airflow is imported inside the functions, so this module (and its tests of the
defaults) also loads in the stream environment; nothing here does I/O when a DAG file
is parsed — ``schedule_setting`` only reads Airflow's in-memory configuration.

Errors keep their meaning in Airflow: a :class:`daas.errors.Retryable` error is
re-raised and retried with exponential backoff; any other project error is fatal
for the run (``AirflowFailException``: no retries, straight to the alert).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from daas.errors import DaasError, Retryable
from warehouse.alerts import task_failure_alert

if TYPE_CHECKING:
    from warehouse.config import WarehouseConfig

__all__ = [
    "OWNER",
    "TAGS",
    "aws_client_factory",
    "fatal_errors_fail_fast",
    "lake_manifests_asset",
    "lifecycle_check",
    "redshift_client_factory",
    "running_dag_runs",
    "runtime_config",
    "schedule_setting",
    "task_defaults",
    "warehouse_accepts_work",
]

OWNER = "daas-data-engineering"
TAGS = ("daas", "warehouse")

P = ParamSpec("P")
R = TypeVar("R")


def task_defaults(*, retries: int = 3, retry_delay: timedelta = timedelta(minutes=1),
                  max_retry_delay: timedelta = timedelta(minutes=30),
                  execution_timeout: timedelta = timedelta(minutes=30)) -> dict[str, Any]:
    """``default_args`` for every task: retries with exponential backoff, a timeout, the alert."""
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": retry_delay,
        "retry_exponential_backoff": True,  # doubling delays (Airflow 3.0 takes a bool)
        "max_retry_delay": max_retry_delay,
        "execution_timeout": execution_timeout,
        "on_failure_callback": task_failure_alert,
    }


def schedule_setting(key: str, default: str) -> str:
    """A value of Airflow's ``[daas]`` configuration section (env ``AIRFLOW__DAAS__<KEY>``)."""
    from airflow.configuration import conf

    return conf.get("daas", key, fallback=default)


def lake_manifests_asset() -> Any:
    """The asset the S3 sink's committed manifests stand for: ``lake_manifests_watch``
    updates it when new ones appear, ``warehouse_copy`` is scheduled on it."""
    from airflow.sdk import Asset

    return Asset(name="daas_lake_manifests",
                 uri=schedule_setting("lake_manifests_uri", "s3://daas-lake/encounters/_manifests/"))


def runtime_config() -> WarehouseConfig:
    """The Airflow Variable ``daas_warehouse``, validated; call inside a task only."""
    from airflow.sdk import Variable

    from warehouse.config import VARIABLE, load_config

    return load_config(Variable.get(VARIABLE, default=None))


def aws_client_factory(aws_conn_id: str | None, region_name: str | None = None) -> Callable[[str], Any]:
    """boto3 clients with the credentials of an Airflow AWS connection (the provider's hook)."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    def factory(service: str) -> Any:
        return AwsBaseHook(aws_conn_id=aws_conn_id, client_type=service, region_name=region_name).conn

    return factory


def redshift_client_factory(config: WarehouseConfig) -> Callable[[str], Any] | None:
    """AWS clients for the configured Redshift's Airflow connection, or None without Redshift."""
    redshift = config.redshift
    return aws_client_factory(redshift.aws_conn_id, redshift.region_name) if redshift else None


def running_dag_runs(dag_id: str) -> int:
    """Queued or running runs of ``dag_id``, asked through the Task SDK (no DB access)."""
    from airflow.sdk import get_current_context

    ti = get_current_context()["ti"]
    return int(ti.get_dr_count(dag_id=dag_id, states=["queued", "running"]))


def lifecycle_check(action: str) -> dict[str, Any] | bool:
    """Body of ``redshift_lifecycle``'s check tasks: False to skip (already there), True or
    the resize request to act; LoadInProgress (retried) while a load runs."""
    import logging

    from airflow.providers.amazon.aws.hooks.redshift_cluster import RedshiftHook

    from daas.settings import load_settings
    from warehouse import jobs, lifecycle

    config = runtime_config()
    redshift = config.require_redshift()
    wanted = lifecycle.ClusterAction(action)
    target = {lifecycle.ClusterAction.RESIZE_UP: redshift.heavy,
              lifecycle.ClusterAction.RESIZE_DOWN: redshift.base}.get(wanted)
    decision = lifecycle.check(
        wanted,
        client=RedshiftHook(aws_conn_id=redshift.aws_conn_id, region_name=redshift.region_name).conn,
        cluster_identifier=redshift.cluster_identifier, target=target, classic=redshift.classic_resize,
        running_copy_runs=lambda: running_dag_runs("warehouse_copy"),
        running_syncs=lambda: running_dag_runs("rds_to_redshift_sync"),
        live_leases=lambda: jobs.live_loads(config, load_settings(), aws_client=redshift_client_factory(config)))
    logging.getLogger(__name__).info("%s: %s", wanted, decision.reason)
    return decision.request or decision.act


def warehouse_accepts_work() -> bool:
    """Body of the loads' and syncs' first task: False (skip the run) while the Redshift
    cluster is paused or between states; True for the local PostgreSQL warehouse."""
    import logging

    from airflow.providers.amazon.aws.hooks.redshift_cluster import RedshiftHook

    from warehouse import lifecycle

    config = runtime_config()
    if config.target != "redshift":
        return True
    redshift = config.require_redshift()
    client = RedshiftHook(aws_conn_id=redshift.aws_conn_id, region_name=redshift.region_name).conn
    decision = lifecycle.accepts_work(lifecycle.describe_cluster(client, redshift.cluster_identifier))
    logging.getLogger(__name__).info("%s", decision.reason)
    return decision.act


def fatal_errors_fail_fast(fn: Callable[P, R]) -> Callable[P, R]:
    """Retry Retryable errors; turn other project errors into AirflowFailException."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except Retryable:
            raise
        except DaasError as exc:
            from airflow.exceptions import AirflowFailException

            raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc

    return run
