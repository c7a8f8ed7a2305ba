"""What the DAGs need at run time, from one Airflow Variable: ``daas_warehouse`` (JSON).

Read inside tasks (never at DAG-parse time), validated, unknown keys rejected, so a
typo fails the first task with a message naming the key. Example for AWS::

    {"target": "redshift", "rds_sync": "airbyte",
     "airbyte_connection_id": "3f1c...",
     "redshift": {"cluster_identifier": "daas-prod", "database": "daas", "db_user": "loader",
                  "iam_role_arn": "arn:aws:iam::123456789012:role/daas-redshift-copy",
                  "aws_conn_id": "aws_default", "region_name": "eu-west-1",
                  "base": {"node_type": "ra3.xlplus", "nodes": 2},
                  "heavy": {"node_type": "ra3.xlplus", "nodes": 4}}}

Unset, everything is local: the PostgreSQL warehouse and the replicator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from daas.errors import ConfigurationError
from warehouse.tables import WarehouseSchemas
from warehouse.targets import DEFAULT_LEASE_SECONDS

__all__ = ["VARIABLE", "ClusterSize", "RedshiftConfig", "WarehouseConfig", "load_config"]

VARIABLE = "daas_warehouse"
_ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClusterSize(_Strict):
    node_type: str = Field(min_length=2)
    nodes: int = Field(ge=1, le=128)


class RedshiftConfig(_Strict):
    """The provisioned cluster: where loads run (Data API) and what the lifecycle manages."""

    cluster_identifier: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    database: str = "dev"
    db_user: str | None = None
    secret_arn: str | None = None
    iam_role_arn: str = "default"
    aws_conn_id: str = "aws_default"
    region_name: str | None = None
    base: ClusterSize | None = None
    heavy: ClusterSize | None = None
    classic_resize: bool = False

    @model_validator(mode="after")
    def _credentials(self) -> RedshiftConfig:
        if not (self.db_user or self.secret_arn):
            raise ValueError("redshift needs db_user (temporary credentials) or secret_arn (Secrets Manager)")
        return self


class WarehouseConfig(_Strict):
    target: Literal["postgres", "redshift"] = "postgres"
    lake_schema: str = "lake"
    rds_schema: str = "rds"
    analytics_schema: str = "analytics"
    published_schema: str = "published"
    # Roles (users on Redshift) that read the published views: partners, dashboards.
    # Every publish grants them USAGE on the schema and SELECT on its views.
    published_readers: list[str] = Field(default_factory=list)
    rds_source_schema: str = "public"
    rds_source_table: str = "encounters"
    rds_sync: Literal["replicator", "airbyte"] = "replicator"
    airbyte_connection_id: str | None = None
    redshift: RedshiftConfig | None = None
    lease_seconds: int = Field(default=DEFAULT_LEASE_SECONDS, ge=60)

    @field_validator("published_readers")
    @classmethod
    def _plain_role_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _ROLE.fullmatch(name):
                raise ValueError(f"published_readers: {name!r} is not a plain lower-case role name")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> WarehouseConfig:
        if self.target == "redshift" and self.redshift is None:
            raise ValueError("target 'redshift' needs the 'redshift' section")
        if self.rds_sync == "airbyte" and not self.airbyte_connection_id:
            raise ValueError("rds_sync 'airbyte' needs airbyte_connection_id (the Airbyte connection's UUID)")
        self.schemas  # noqa: B018 - validates the schema names
        return self

    @property
    def schemas(self) -> WarehouseSchemas:
        return WarehouseSchemas(lake=self.lake_schema, rds=self.rds_schema, analytics=self.analytics_schema,
                                published=self.published_schema)

    def require_redshift(self) -> RedshiftConfig:
        if self.redshift is None:
            raise ConfigurationError(f"Airflow Variable {VARIABLE} has no 'redshift' section "
                                     "(cluster_identifier, db_user or secret_arn, ...); the lifecycle needs it")
        return self.redshift


def load_config(raw: str | Mapping[str, Any] | None) -> WarehouseConfig:
    """Parse the Variable's value (JSON text, a mapping, or None for the local defaults)."""
    if raw is None or raw == "":
        data: Any = {}
    elif isinstance(raw, str):
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"Airflow Variable {VARIABLE} is not JSON: {exc}") from exc
    else:
        data = dict(raw)
    if not isinstance(data, dict):
        raise ConfigurationError(f"Airflow Variable {VARIABLE} must hold a JSON object, got {type(data).__name__}")
    try:
        return WarehouseConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"Airflow Variable {VARIABLE} is invalid: {problems}") from exc
    except ConfigurationError as exc:
        raise ConfigurationError(f"Airflow Variable {VARIABLE} is invalid: {exc}") from exc
