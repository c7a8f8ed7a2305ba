"""Clients the batch side builds from settings, importable in the Airflow environment.

The S3 client is the sink's own (``sinks.destinations.s3`` needs only boto3), so the
lake is read with the same endpoint and checksum settings it was written with.
PostgreSQL connections are autocommit: every load and lease commits itself.
"""

from __future__ import annotations

import psycopg

from daas.settings import Settings
from sinks.destinations.s3 import s3_client
from warehouse.errors import WarehouseUnavailable

__all__ = ["connect", "s3_client"]


def connect(settings: Settings, which: str) -> psycopg.Connection:
    """An autocommit connection to ``rds_dsn`` or ``warehouse_dsn``; WarehouseUnavailable if it is down."""
    if which not in ("rds_dsn", "warehouse_dsn"):
        raise ValueError(f"{which!r}: connect to rds_dsn or warehouse_dsn")
    try:
        return psycopg.connect(settings.require(which), autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise WarehouseUnavailable(f"cannot connect to {which}: {exc}") from exc
