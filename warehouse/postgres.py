"""The local warehouse: PostgreSQL standing in for Redshift.

PostgreSQL cannot read S3, so this implementation reads each manifest's Parquet
objects itself and streams them into the staging table with ``COPY ... FROM STDIN``
(Arrow writes the CSV in bulk; no per-row Python). It checks what Redshift would:
every mandatory object exists, its size is the manifest's ``content_length``, and its
Parquet fields are the lake columns in order with the expected types. Then it runs
the same post-COPY statements Redshift runs.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError

from schemas import CLEAN_ENCOUNTER, SchemaStore
from schemas.columns import arrow_schema
from warehouse.errors import ManifestError, WarehouseError, WarehouseUnavailable
from warehouse.manifests import Manifest, ManifestEntry
from warehouse.statements import POSTGRES, STAGE, ident
from warehouse.tables import WarehouseSchemas
from warehouse.targets import ManifestLoad, Warehouse

__all__ = ["PostgresWarehouse"]

_CSV_BATCH_ROWS = 50_000


class PostgresWarehouse(Warehouse):
    """Loads into a PostgreSQL database over an autocommit psycopg connection."""

    dialect = POSTGRES

    def __init__(self, conn: psycopg.Connection, *, s3: Any = None,
                 schemas: WarehouseSchemas | None = None) -> None:
        if not conn.autocommit:
            # Each load and each lease change must commit on its own; inside a caller's
            # transaction they would be invisible to others until that commits.
            raise WarehouseError("PostgresWarehouse needs an autocommit connection "
                                 "(psycopg.connect(dsn, autocommit=True))")
        super().__init__(schemas or WarehouseSchemas())
        self.conn = conn
        self.s3 = s3
        self._schema = arrow_schema(SchemaStore.default().current(CLEAN_ENCOUNTER).raw)

    def execute(self, statements: Sequence[str]) -> list[tuple[Any, ...]]:
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)  # type: ignore[arg-type]  # generated, validated text
                return cur.fetchall() if cur.description else []
        except psycopg.OperationalError as exc:
            raise WarehouseUnavailable(f"PostgreSQL warehouse unavailable: {exc}") from exc

    def load_manifest(self, manifest: Manifest) -> ManifestLoad:
        if self.s3 is None:
            raise WarehouseError("PostgresWarehouse needs an S3 client to read manifest objects")
        cols = ", ".join(ident(n) for n in self.sql.names)
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.execute(self.sql.lock_audit())  # type: ignore[arg-type]
                cur.execute(self.sql.create_staging())  # type: ignore[arg-type]
                with cur.copy(f"COPY {ident(STAGE)} ({cols}) FROM STDIN (FORMAT csv)") as copy:  # type: ignore[arg-type]
                    for entry in manifest.entries:
                        table = self._read(entry)
                        if table is None:
                            continue
                        for batch in table.to_batches(max_chunksize=_CSV_BATCH_ROWS):
                            buf = io.BytesIO()
                            pa_csv.write_csv(batch, buf, pa_csv.WriteOptions(include_header=False))
                            copy.write(buf.getvalue())
                for statement in self.sql.after_copy(manifest.key, len(manifest.entries), manifest.etag):
                    cur.execute(statement)  # type: ignore[arg-type]
                staged, merged, already = cur.fetchone()  # type: ignore[misc]
        except psycopg.OperationalError as exc:
            raise WarehouseUnavailable(f"PostgreSQL warehouse unavailable loading {manifest.url}: {exc}") from exc
        return ManifestLoad(manifest.key, len(manifest.entries), staged, merged, already > 0)

    def _read(self, entry: ManifestEntry) -> pa.Table | None:
        """The object's rows in lake column order, or None for a missing optional object."""
        try:
            obj = self.s3.get_object(Bucket=entry.bucket, Key=entry.key)
            body = obj["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                if not entry.mandatory:
                    return None
                raise ManifestError(f"mandatory object {entry.url} does not exist") from exc
            raise WarehouseUnavailable(f"S3 did not answer reading {entry.url}: {exc}") from exc
        except BotoCoreError as exc:
            raise WarehouseUnavailable(f"S3 did not answer reading {entry.url}: {exc}") from exc
        if len(body) != entry.content_length:
            raise ManifestError(f"{entry.url} is {len(body)} bytes but the manifest says "
                                f"content_length={entry.content_length}")
        try:
            table = pq.read_table(io.BytesIO(body))
        except (pa.ArrowInvalid, OSError) as exc:
            raise ManifestError(f"{entry.url} is not readable Parquet: {exc}") from exc
        expected = self._schema
        if table.schema.names != expected.names:
            raise ManifestError(f"{entry.url} has fields {table.schema.names}; the lake expects {expected.names} "
                                "in that order (Redshift's Parquet COPY loads by position)")
        for field in expected:
            if not table.schema.field(field.name).type.equals(field.type):
                raise ManifestError(f"{entry.url} field {field.name} is {table.schema.field(field.name).type}, "
                                    f"expected {field.type}")
        if entry.record_count is not None and table.num_rows != entry.record_count:
            raise ManifestError(f"{entry.url} holds {table.num_rows} rows; the manifest says {entry.record_count}")
        return table
