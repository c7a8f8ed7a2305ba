"""Where the warehouse keeps things, and the lake's column layout.

The lake columns are the clean encounter's Avro fields in schema order, which is
also the Parquet field order the S3 sink writes (``schemas.columns.arrow_schema``).
Redshift's Parquet COPY loads by position, so every staging table is built from
this list and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from daas.errors import ConfigurationError
from schemas import CLEAN_ENCOUNTER, SchemaStore
from schemas.columns import Column, columns

__all__ = ["LOAD_LOCK_NAME", "WarehouseSchemas", "lake_columns"]

# The one lease row a running warehouse load holds (see statements.lease_*).
LOAD_LOCK_NAME = "warehouse_copy"

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class WarehouseSchemas:
    """Schema names: ``lake`` (S3 loads), ``rds`` (the RDS replica), ``analytics``
    (internal views, unsuppressed) and ``published`` (small cells suppressed)."""

    lake: str = "lake"
    rds: str = "rds"
    analytics: str = "analytics"
    published: str = "published"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not _IDENTIFIER.fullmatch(value):
                raise ConfigurationError(
                    f"warehouse schema {f.name}={value!r} is not a plain lower-case identifier "
                    "(letters, digits, underscore; at most 63 characters)")
        if len({getattr(self, f.name) for f in fields(self)}) != len(fields(self)):
            raise ConfigurationError(f"warehouse schemas must be distinct, got {self}")


def lake_columns() -> list[Column]:
    """The clean encounter's columns in Parquet field order (the staging table's order)."""
    return columns(SchemaStore.default().current(CLEAN_ENCOUNTER).raw)
