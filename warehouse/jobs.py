"""The units of work the DAGs run, free of Airflow: settings and config in, report out.

Each job opens what it needs (S3, PostgreSQL connections or the Redshift Data API),
does one thing and closes them. The DAG files call these through
``warehouse.orchestration``, which adds what only Airflow knows (Variables, AWS
connections, running DAG runs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from daas.settings import Settings
from warehouse.analytics import publish_analytics
from warehouse.clients import connect, s3_client
from warehouse.config import WarehouseConfig
from warehouse.loader import LoadReport, load_new_manifests
from warehouse.manifests import list_manifests, manifests_mark
from warehouse.postgres import PostgresWarehouse
from warehouse.redshift import RedshiftDataApi, RedshiftWarehouse
from warehouse.replicator import SyncReport, replicate_all
from warehouse.targets import Lease, Warehouse

__all__ = ["copy_lake", "lake_manifests_mark", "live_loads", "open_warehouse", "publish", "replicate_rds"]

# A factory for AWS clients by service name, e.g. the provider's AwsBaseHook(...).conn.
ClientFactory = Callable[[str], Any]


@contextlib.contextmanager
def open_warehouse(config: WarehouseConfig, settings: Settings, *, s3: Any = None,
                   aws_client: ClientFactory | None = None) -> Iterator[Warehouse]:
    """The configured warehouse: local PostgreSQL, or Redshift through the Data API."""
    if config.target == "postgres":
        with connect(settings, "warehouse_dsn") as conn:
            yield PostgresWarehouse(conn, s3=s3, schemas=config.schemas)
        return
    redshift = config.require_redshift()
    if aws_client is None:
        import boto3

        def aws_client(service: str) -> Any:
            return boto3.client(service, region_name=redshift.region_name)

    api = RedshiftDataApi(aws_client("redshift-data"), database=redshift.database,
                          cluster_identifier=redshift.cluster_identifier, db_user=redshift.db_user,
                          secret_arn=redshift.secret_arn)
    yield RedshiftWarehouse(api, iam_role_arn=redshift.iam_role_arn, schemas=config.schemas)


def copy_lake(config: WarehouseConfig, settings: Settings, *, aws_client: ClientFactory | None = None) -> LoadReport:
    """Load every new manifest of the lake (``warehouse_copy``'s main task)."""
    s3 = s3_client(settings)
    with open_warehouse(config, settings, s3=s3, aws_client=aws_client) as warehouse:
        return load_new_manifests(settings, s3=s3, warehouse=warehouse, lease_seconds=config.lease_seconds)


def lake_manifests_mark(settings: Settings) -> dict[str, Any]:
    """The count and newest time of the lake's committed manifests (``lake_manifests_watch``)."""
    return manifests_mark(list_manifests(s3_client(settings), settings.s3_bucket, settings.s3_prefix))


def publish(config: WarehouseConfig, settings: Settings, *, aws_client: ClientFactory | None = None) -> int:
    """Recreate the analytics views and the published snapshot, and refresh the reference population.

    Under the load lease: one publish at a time and none during a load (two at once
    deadlock on PostgreSQL and conflict under Redshift's serializable isolation). A held
    lease is ``LoadInProgress``, which Airflow retries with backoff.
    """
    with open_warehouse(config, settings, aws_client=aws_client) as warehouse:
        warehouse.ensure_tables()
        with warehouse.lease(seconds=config.lease_seconds):
            return publish_analytics(warehouse, readers=config.published_readers)


def live_loads(config: WarehouseConfig, settings: Settings, *, aws_client: ClientFactory | None = None) -> list[Lease]:
    """Loads holding the lease right now (the lifecycle refuses to pause under them)."""
    with open_warehouse(config, settings, aws_client=aws_client) as warehouse:
        warehouse.ensure_tables()
        return warehouse.live_leases()


def replicate_rds(config: WarehouseConfig, settings: Settings) -> SyncReport:
    """The local stand-in for the Airbyte sync: RDS encounters, surveillance alerts and
    dead letters → the warehouse's ``<rds>`` schema (totals and a report per stream)."""
    with connect(settings, "rds_dsn") as source, connect(settings, "warehouse_dsn") as warehouse:
        return replicate_all(source, warehouse, encounters_table=config.rds_source_table,
                             source_schema=config.rds_source_schema, target_schema=config.rds_schema)
