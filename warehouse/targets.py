"""The interface the loader, the analytics publisher and the lifecycle checks talk to.

A :class:`Warehouse` runs a list of statements as one transaction and loads one
manifest (COPY into staging, then the shared MERGE statements). Everything else —
creating tables, reading the audit, the load lease — is written once here on top of
``execute``. Two implementations: ``warehouse.postgres.PostgresWarehouse`` (local) and
``warehouse.redshift.RedshiftWarehouse`` (AWS).
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from warehouse.errors import LoadInProgress
from warehouse.manifests import Manifest
from warehouse.statements import Dialect, LakeStatements
from warehouse.tables import WarehouseSchemas

__all__ = ["DEFAULT_LEASE_SECONDS", "Lease", "ManifestLoad", "Warehouse", "new_holder"]

# Longer than warehouse_copy's execution timeout; renewed after every manifest.
DEFAULT_LEASE_SECONDS = 45 * 60


@dataclass(frozen=True)
class ManifestLoad:
    """What loading one manifest did."""

    manifest_key: str
    objects: int
    rows_staged: int
    rows_merged: int
    already_loaded: bool


@dataclass(frozen=True)
class Lease:
    """A live load lease: who holds it and until when."""

    holder: str
    acquired_at: Any
    expires_at: Any


def new_holder() -> str:
    """A lease holder id unique to this process and call."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class Warehouse(ABC):
    """A warehouse the lake can be loaded into."""

    dialect: Dialect

    def __init__(self, schemas: WarehouseSchemas) -> None:
        self.schemas = schemas
        self.sql = LakeStatements(self.dialect, schemas)

    @abstractmethod
    def execute(self, statements: Sequence[str]) -> list[tuple[Any, ...]]:
        """Run ``statements`` in one transaction; return the last statement's rows."""

    @abstractmethod
    def load_manifest(self, manifest: Manifest) -> ManifestLoad:
        """COPY the manifest's objects into staging and MERGE them, audited, in one transaction."""

    def ensure_tables(self) -> None:
        self.execute(self.sql.create_tables())

    def loaded_manifests(self) -> dict[str, str | None]:
        """Audited manifest keys and the ETag each was loaded with (None: not recorded)."""
        return {key: etag for key, etag in self.execute([self.sql.loaded_manifests()])}

    def live_leases(self) -> list[Lease]:
        """Loads running now (their lease has not expired); the lifecycle DAG asks this."""
        return [Lease(*row) for row in self.execute([self.sql.live_leases()])]

    @contextlib.contextmanager
    def lease(self, holder: str | None = None, seconds: int = DEFAULT_LEASE_SECONDS) -> Iterator[_HeldLease]:
        """Hold the load lease for the block; LoadInProgress if another load holds it.

        The lease is a row in ``<lake>.load_lock`` with an expiry, committed before the
        load starts, so other sessions (the lifecycle DAG) can see a load is running and
        a crashed loader cannot block anything for longer than ``seconds``.
        """
        holder = holder or new_holder()
        rows = self.execute(self.sql.acquire_lease(holder, seconds))
        if not rows or rows[0][0] != holder:
            other = Lease(*rows[0]) if rows else None
            raise LoadInProgress(f"another warehouse load holds the lease: {other}; try again after it ends")
        try:
            yield _HeldLease(self, holder, seconds)
        finally:
            self.execute([self.sql.release_lease(holder)])


class _HeldLease:
    def __init__(self, warehouse: Warehouse, holder: str, seconds: int) -> None:
        self.holder = holder
        self._warehouse = warehouse
        self._seconds = seconds

    def renew(self) -> None:
        self._warehouse.execute([self._warehouse.sql.renew_lease(self.holder, self._seconds)])
