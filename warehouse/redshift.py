"""The AWS warehouse: Redshift, driven through the Redshift Data API.

Why the Data API and not a driver (redshift_connector):

- ``BatchExecuteStatement`` runs its statements as one transaction in one session, which
  is exactly the load contract (COPY + MERGE + audit commit together or not at all) and
  keeps the session's temp staging tables alive across the batch.
- No network path from the Airflow workers (MWAA) to the cluster: calls go to the AWS
  API with IAM credentials from the Airflow connection, so no VPC peering, security
  group rule or database password has to reach the workers (``DbUser`` gets temporary
  credentials; ``SecretArn`` reads them from Secrets Manager).
- Statements are asynchronous and survive a worker restart: the statement id can be
  polled, and a timeout cancels it server-side.

The cost is latency (seconds of polling per call) and no bind parameters in batches,
which is why ``warehouse.statements`` validates every identifier and literal it emits.
Nothing here runs against a real cluster in this repository; the tests check the
generated SQL and the exact API calls (botocore's Stubber).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from daas.errors import ConfigurationError
from warehouse.errors import StatementFailed, WarehouseUnavailable
from warehouse.manifests import Manifest
from warehouse.statements import REDSHIFT
from warehouse.tables import WarehouseSchemas
from warehouse.targets import ManifestLoad, Warehouse

__all__ = ["RedshiftDataApi", "RedshiftWarehouse"]

_DONE = {"FINISHED", "FAILED", "ABORTED"}
_TRANSIENT = {"ThrottlingException", "InternalServerException", "ActiveStatementsExceededException",
              "ActiveSessionsExceededException"}


@dataclass
class RedshiftDataApi:
    """Runs statement batches through a boto3 ``redshift-data`` client and waits for them."""

    client: Any
    database: str
    cluster_identifier: str | None = None
    workgroup_name: str | None = None
    db_user: str | None = None
    secret_arn: str | None = None
    poll_interval: float = 2.0
    timeout: float = 30 * 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def __post_init__(self) -> None:
        if (self.cluster_identifier is None) == (self.workgroup_name is None):
            raise ConfigurationError("Redshift needs exactly one of cluster_identifier (provisioned) "
                                     "or workgroup_name (serverless)")
        if self.cluster_identifier and not (self.db_user or self.secret_arn):
            raise ConfigurationError("a provisioned Redshift cluster needs db_user or secret_arn")

    def _target(self) -> dict[str, str]:
        target = {"Database": self.database}
        for key, value in (("ClusterIdentifier", self.cluster_identifier), ("WorkgroupName", self.workgroup_name),
                           ("DbUser", self.db_user), ("SecretArn", self.secret_arn)):
            if value:
                target[key] = value
        return target

    def run(self, statements: Sequence[str], *, name: str = "daas-warehouse") -> list[tuple[Any, ...]]:
        """Run ``statements`` as one transaction; return the last statement's rows."""
        try:
            started = self.client.batch_execute_statement(Sqls=list(statements), StatementName=name, **self._target())
            statement_id = started["Id"]
            description = self._wait(statement_id, name)
            subs = description.get("SubStatements") or []
            if not subs or not subs[-1].get("HasResultSet"):
                return []
            return self._rows(subs[-1]["Id"])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _TRANSIENT or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
                raise WarehouseUnavailable(f"Redshift Data API busy or down for {name!r}: {exc}") from exc
            raise StatementFailed(f"Redshift Data API refused {name!r}: {exc}") from exc
        except BotoCoreError as exc:
            raise WarehouseUnavailable(f"Redshift Data API unreachable for {name!r}: {exc}") from exc

    def _wait(self, statement_id: str, name: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            description = self.client.describe_statement(Id=statement_id)
            status = description["Status"]
            if status in _DONE:
                break
            if time.monotonic() > deadline:
                self.client.cancel_statement(Id=statement_id)
                raise WarehouseUnavailable(f"Redshift statement {name!r} ({statement_id}) still {status} after "
                                           f"{self.timeout:.0f}s; cancelled")
            self.sleep(self.poll_interval)
        if status != "FINISHED":
            failed = [s for s in description.get("SubStatements") or [] if s.get("Status") in ("FAILED", "ABORTED")]
            where = f" in statement {failed[0].get('Id')}: {failed[0].get('QueryString', '')[:200]}" if failed else ""
            raise StatementFailed(f"Redshift {status.lower()} {name!r}{where}: {description.get('Error', 'no error text')}")
        return description

    def _rows(self, result_id: str) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        token = None
        while True:
            page = self.client.get_statement_result(Id=result_id, **({"NextToken": token} if token else {}))
            rows.extend(tuple(_value(cell) for cell in record) for record in page["Records"])
            token = page.get("NextToken")
            if not token:
                return rows


def _value(cell: dict[str, Any]) -> Any:
    if cell.get("isNull"):
        return None
    for key in ("longValue", "doubleValue", "booleanValue", "stringValue", "blobValue"):
        if key in cell:
            return cell[key]
    return None


class RedshiftWarehouse(Warehouse):
    """Redshift: COPY ... FORMAT AS PARQUET MANIFEST, then the shared MERGE, as one batch."""

    dialect = REDSHIFT

    def __init__(self, api: RedshiftDataApi, *, iam_role_arn: str, schemas: WarehouseSchemas | None = None) -> None:
        super().__init__(schemas or WarehouseSchemas())
        self.api = api
        self.iam_role_arn = iam_role_arn

    def execute(self, statements: Sequence[str]) -> list[tuple[Any, ...]]:
        return self.api.run(statements)

    def load_manifest(self, manifest: Manifest) -> ManifestLoad:
        statements = self.sql.redshift_load(manifest.url, manifest.key, len(manifest.entries), self.iam_role_arn,
                                            manifest.etag)
        rows = self.api.run(statements, name="daas-warehouse-load")
        staged, merged, already = (int(v) for v in rows[0])
        return ManifestLoad(manifest.key, len(manifest.entries), staged, merged, already > 0)
