"""A private corner of the real warehouse and lake per test: unique schemas and S3 prefix."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql

from daas.settings import Settings
from tests.integration.warehouse.lake_files import delete_prefix, ensure_bucket
from warehouse.clients import s3_client
from warehouse.postgres import PostgresWarehouse
from warehouse.tables import WarehouseSchemas


@dataclass
class Corner:
    settings: Settings
    s3: Any
    schemas: WarehouseSchemas
    conn: psycopg.Connection

    @property
    def bucket(self) -> str:
        return self.settings.s3_bucket

    @property
    def prefix(self) -> str:
        return self.settings.s3_prefix

    def warehouse(self) -> PostgresWarehouse:
        return PostgresWarehouse(self.conn, s3=self.s3, schemas=self.schemas)

    def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        return self.conn.execute(query.format(**self.schemas.__dict__), params or None).fetchall()  # type: ignore[arg-type]


def schema_base(unique_name: Callable[[str], str], what: str) -> str:
    return unique_name(what).replace("-", "_")[:56]


@pytest.fixture
def corner(endpoints, unique_name) -> Iterator[Corner]:  # noqa: ANN001
    base = schema_base(unique_name, "wh")
    settings = endpoints.settings(s3_prefix=base.replace("_", "-"), s3_bucket="daas-lake")
    s3 = s3_client(settings)
    ensure_bucket(s3, settings.s3_bucket)
    schemas = WarehouseSchemas(lake=f"{base}_l", rds=f"{base}_r", analytics=f"{base}_a", published=f"{base}_p")
    with psycopg.connect(settings.require("warehouse_dsn"), autocommit=True) as conn:
        yield Corner(settings, s3, schemas, conn)
        for name in (schemas.published, schemas.analytics, schemas.rds, schemas.lake):
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(name)))
    delete_prefix(s3, settings.s3_bucket, settings.s3_prefix)
