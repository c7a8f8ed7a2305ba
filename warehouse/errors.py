"""Errors of the batch side, rooted in :class:`daas.errors.DaasError`.

``Retryable`` subclasses are worth another attempt (Airflow retries them with
exponential backoff); the rest are fatal for the operation that raised them.
"""

from __future__ import annotations

from daas.errors import DaasError, Retryable

__all__ = [
    "ClusterBusy",
    "LoadInProgress",
    "ManifestError",
    "ManifestLoadFailed",
    "StatementFailed",
    "WarehouseError",
    "WarehouseUnavailable",
]


class WarehouseError(DaasError):
    """A warehouse load, sync or lifecycle step failed."""


class WarehouseUnavailable(WarehouseError, Retryable):
    """The warehouse, S3 or the Redshift Data API did not answer; try again later."""


class ManifestError(WarehouseError):
    """A manifest, or an object it lists, is malformed, missing or not what it claims to be."""


class ManifestLoadFailed(WarehouseError):
    """Some manifests could not be loaded; the others were. ``report`` says what was done."""

    def __init__(self, message: str, report: object) -> None:
        super().__init__(message)
        self.report = report


class StatementFailed(WarehouseError):
    """Redshift rejected a statement (the Data API reported FAILED or ABORTED)."""


class LoadInProgress(WarehouseError, Retryable):
    """A warehouse load is running; pausing or resizing the cluster now would break it."""


class ClusterBusy(WarehouseError, Retryable):
    """The cluster is between states (resizing, modifying, ...); the action must wait."""
