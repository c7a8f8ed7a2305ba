"""Warehouse load: manifests the S3 sink committed → staging → MERGE, recorded once.

``load_new_manifests`` lists the manifests under ``<prefix>/_manifests/``, skips those
already in ``<lake>.load_audit`` and loads each of the others in its own transaction:
COPY into a staging table, MERGE into ``<lake>.encounters`` on ``record_id`` (a newer
``source_version`` wins; replays change nothing) and record the manifest in the audit
table with the manifest's ETag. Running it twice loads nothing new; a manifest the
sink rewrote with other content is loaded again. While it runs it holds the load lease
(``<lake>.load_lock``), which ``redshift_lifecycle`` checks before pausing the cluster.

The warehouse is either PostgreSQL (locally; pass ``conn``) or Redshift (pass
``warehouse=RedshiftWarehouse(...)``). Called by the ``warehouse_copy`` DAG, the demo
and the end-to-end test.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

from daas.settings import Settings
from warehouse.errors import ManifestError, ManifestLoadFailed, StatementFailed
from warehouse.manifests import Listed, list_manifests, read_manifest
from warehouse.postgres import PostgresWarehouse
from warehouse.tables import WarehouseSchemas
from warehouse.targets import DEFAULT_LEASE_SECONDS, Warehouse

__all__ = ["LoadReport", "ensure_lake_tables", "load_new_manifests"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadReport:
    """Totals of one loader run."""

    manifests_loaded: int
    rows_staged: int
    rows_merged: int
    manifests_listed: int = 0
    failed: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": list(self.failed)}


def _audited(done: dict[str, str | None], item: Listed) -> bool:
    """Audited with this content; an ETag missing on either side counts as the same content."""
    if item.key not in done:
        return False
    recorded = done[item.key]
    return recorded is None or item.etag is None or recorded == item.etag


def ensure_lake_tables(conn: psycopg.Connection, schemas: WarehouseSchemas | None = None) -> None:
    """Create the lake schema and tables in a PostgreSQL warehouse (idempotent)."""
    PostgresWarehouse(conn, schemas=schemas).ensure_tables()


def load_new_manifests(settings: Settings, *, s3: Any, conn: psycopg.Connection | None = None,
                       warehouse: Warehouse | None = None, schemas: WarehouseSchemas | None = None,
                       lease_seconds: int = DEFAULT_LEASE_SECONDS) -> LoadReport:
    """Load every committed manifest not yet audited; one transaction per manifest.

    Give either ``conn`` (an autocommit PostgreSQL connection: the local warehouse) or
    ``warehouse``. A manifest that is malformed, lists a bad object or that Redshift
    refuses to COPY does not stop the others: they are loaded, then
    :class:`ManifestLoadFailed` names the bad ones (its ``report`` holds the totals).
    Retryable errors (S3 or the warehouse away) propagate at once.
    """
    if (conn is None) == (warehouse is None):
        raise TypeError("pass exactly one of conn (PostgreSQL) or warehouse")
    target = warehouse or PostgresWarehouse(conn, s3=s3, schemas=schemas)  # type: ignore[arg-type]
    bucket, prefix = settings.s3_bucket, settings.s3_prefix.strip("/")
    target.ensure_tables()
    loaded = staged = merged = 0
    failed: list[str] = []
    with target.lease(seconds=lease_seconds) as lease:
        done = target.loaded_manifests()
        listed = list_manifests(s3, bucket, prefix)
        for item in listed:
            if _audited(done, item):
                continue
            try:
                result = target.load_manifest(read_manifest(s3, bucket, item.key))
            except (ManifestError, StatementFailed) as exc:  # this manifest's fault (or Redshift's COPY of it)
                log.error("manifest s3://%s/%s not loaded: %s", bucket, item.key, exc)
                failed.append(f"{item.key}: {exc}")
                continue
            if not result.already_loaded:
                loaded += 1
                staged += result.rows_staged
                merged += result.rows_merged
            lease.renew()
    report = LoadReport(loaded, staged, merged, len(listed), tuple(failed))
    log.info("warehouse load: %s", report)
    if failed:
        raise ManifestLoadFailed(f"{len(failed)} manifest(s) could not be loaded (the other "
                                 f"{loaded} were): " + "; ".join(failed), report)
    return report
