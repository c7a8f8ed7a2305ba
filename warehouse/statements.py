"""The warehouse load as SQL text, for Redshift and for PostgreSQL standing in for it.

One builder, two dialects: the statements after the COPY (deduplicate the staged rows,
drop those the target already has at the same or a newer version, drop everything if
the manifest is already audited, MERGE, audit) are the same text for both, so the
local tests that run them against PostgreSQL exercise what Redshift will run.

Redshift's rules shape that text (docs: MERGE, "COPY from columnar data formats"):

- Parquet COPY loads by position, takes no column list and needs as many table columns
  as the file has fields, so the staging table is exactly the Parquet schema, in its
  field order. A Parquet COPY with MANIFEST needs ``meta.content_length`` per entry.
- MERGE's source must be a table (not a view or subquery) and at most one source row
  may match a target row, so staged rows are first deduplicated into a temp table.
- MERGE allows one unconditional WHEN MATCHED and one WHEN NOT MATCHED, no extra
  predicates (PostgreSQL's ``WHEN MATCHED AND ...`` does not exist there), so the
  "only if newer" rule is applied by deleting stale rows from the source beforehand.
- The target takes no alias; SET names bare target columns.
- Constraints are not enforced, so "each manifest once" cannot rely on the audit
  table's primary key: the load locks the audit table and checks it in the same
  transaction.

Identifiers and literals are generated here and validated strictly, because the
Redshift Data API's BatchExecuteStatement takes no bind parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from schemas.columns import Column
from warehouse.errors import ManifestError
from warehouse.tables import LOAD_LOCK_NAME, WarehouseSchemas, lake_columns

__all__ = ["POSTGRES", "REDSHIFT", "Dialect", "LakeStatements", "ident", "literal"]

STAGE = "_daas_stage"
NEWEST = "_daas_newest"
COUNTS = "_daas_counts"

_IDENT = re.compile(r"[a-z_][a-z0-9_]*")
_S3_URL = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[A-Za-z0-9!_.*()=+/-]{1,1024}")
_IAM_ROLE = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}")


@dataclass(frozen=True)
class Dialect:
    """What differs between Redshift and PostgreSQL in the statements we generate."""

    name: str
    types: Mapping[str, str]  # Avro kind -> column type
    now: str
    temp_suffix: str  # after a temp table's name/columns: PostgreSQL drops it at commit
    lock_mode: str  # appended to LOCK <table>
    view_suffix: str
    encounters_suffix: str  # distribution and sort keys of the encounters tables
    add_missing_columns: bool  # PostgreSQL can ALTER ... ADD COLUMN IF NOT EXISTS

    def column_type(self, column: Column) -> str:
        return self.types[column.avro]

    def seconds_from_now(self, seconds: int) -> str:
        if self.name == "redshift":
            return f"DATEADD(second, {int(seconds)}, {self.now})"
        return f"{self.now} + INTERVAL '{int(seconds)} seconds'"


POSTGRES = Dialect(
    name="postgres",
    types={"string": "TEXT", "uuid": "UUID", "enum": "TEXT", "boolean": "BOOLEAN", "int": "INTEGER",
           "long": "BIGINT", "float": "REAL", "double": "DOUBLE PRECISION", "date": "DATE",
           "timestamp-millis": "TIMESTAMPTZ", "timestamp-micros": "TIMESTAMPTZ"},
    now="now()",
    temp_suffix=" ON COMMIT DROP",
    lock_mode=" IN SHARE ROW EXCLUSIVE MODE",
    view_suffix="",
    encounters_suffix="",
    add_missing_columns=True,
)

# Redshift has no UUID or unbounded TEXT (TEXT is VARCHAR(256)); widths are bytes.
REDSHIFT = Dialect(
    name="redshift",
    types={"string": "VARCHAR(1024)", "uuid": "VARCHAR(36)", "enum": "VARCHAR(32)", "boolean": "BOOLEAN",
           "int": "INTEGER", "long": "BIGINT", "float": "REAL", "double": "DOUBLE PRECISION",
           "date": "DATE", "timestamp-millis": "TIMESTAMPTZ", "timestamp-micros": "TIMESTAMPTZ"},
    now="SYSDATE",
    temp_suffix="",
    lock_mode="",
    # Late-binding views survive Airbyte replacing rds.encounters and may be created
    # before that table exists.
    view_suffix=" WITH NO SCHEMA BINDING",
    encounters_suffix=' DISTKEY ("record_id") SORTKEY ("encounter_date")',
    add_missing_columns=False,
)


def ident(*parts: str) -> str:
    """A quoted, dot-joined identifier; only plain lower-case names are accepted."""
    for part in parts:
        if not _IDENT.fullmatch(part):
            raise ValueError(f"{part!r} is not a plain lower-case SQL identifier")
    return ".".join(f'"{p}"' for p in parts)


def literal(value: str) -> str:
    """A single-quoted string literal; backslashes and control characters are refused."""
    if "\\" in value or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError(f"{value!r} holds a backslash or control character; refusing to quote it")
    return "'" + value.replace("'", "''") + "'"


def manifest_url_literal(url: str) -> str:
    if not _S3_URL.fullmatch(url):
        raise ManifestError(f"manifest URL {url!r} is not s3://bucket/key with S3-safe characters")
    return literal(url)


class LakeStatements:
    """SQL for the lake tables, the load, the audit and the load lease, in one dialect."""

    def __init__(self, dialect: Dialect, schemas: WarehouseSchemas, columns: Sequence[Column] | None = None) -> None:
        self.dialect = dialect
        self.schemas = schemas
        self.columns = list(columns if columns is not None else lake_columns())
        self.names = [c.name for c in self.columns]
        if self.names[0] != "record_id" or "source_version" not in self.names:
            raise ValueError("the lake columns must start with record_id and include source_version")
        self.encounters = ident(schemas.lake, "encounters")
        self.audit = ident(schemas.lake, "load_audit")
        self.lock = ident(schemas.lake, "load_lock")

    # -- tables ---------------------------------------------------------------------

    def _column_defs(self, *, not_null: bool) -> str:
        return ", ".join(
            f"{ident(c.name)} {self.dialect.column_type(c)}{'' if c.nullable or not not_null else ' NOT NULL'}"
            for c in self.columns)

    def create_tables(self) -> list[str]:
        d = self.dialect
        statements = [
            f"CREATE SCHEMA IF NOT EXISTS {ident(self.schemas.lake)}",
            f"CREATE TABLE IF NOT EXISTS {self.encounters} ({self._column_defs(not_null=True)}, "
            f'"loaded_at" TIMESTAMPTZ NOT NULL DEFAULT {d.now}, PRIMARY KEY ("record_id")){d.encounters_suffix}',
            # "rows" is what the manifest staged, "rows_merged" what changed the target.
            f'CREATE TABLE IF NOT EXISTS {self.audit} ("manifest_key" VARCHAR(1024) NOT NULL, '
            '"objects" INTEGER NOT NULL, "rows" INTEGER NOT NULL, "rows_merged" INTEGER, '
            f'"loaded_at" TIMESTAMPTZ NOT NULL DEFAULT {d.now}, "etag" VARCHAR(80), PRIMARY KEY ("manifest_key"))',
            f'CREATE TABLE IF NOT EXISTS {self.lock} ("name" VARCHAR(64) NOT NULL, "holder" VARCHAR(256) NOT NULL, '
            '"acquired_at" TIMESTAMPTZ NOT NULL, "expires_at" TIMESTAMPTZ NOT NULL, PRIMARY KEY ("name"))',
        ]
        if d.add_missing_columns:  # audit tables made by the walking skeleton lack them
            statements += [f'ALTER TABLE {self.audit} ADD COLUMN IF NOT EXISTS "rows_merged" INTEGER',
                           f'ALTER TABLE {self.audit} ADD COLUMN IF NOT EXISTS "etag" VARCHAR(80)']
        return statements

    def loaded_manifests(self) -> str:
        """(manifest_key, etag) of every audited manifest; a NULL etag matches any content."""
        return f'SELECT "manifest_key", "etag" FROM {self.audit}'

    # -- the load -------------------------------------------------------------------

    def lock_audit(self) -> str:
        return f"LOCK TABLE {self.audit}{self.dialect.lock_mode}" if self.dialect.lock_mode \
            else f"LOCK {self.audit}"

    def create_staging(self) -> str:
        """The staging table: the Parquet schema exactly, in field order, no constraints."""
        return f"CREATE TEMP TABLE {ident(STAGE)} ({self._column_defs(not_null=False)}){self.dialect.temp_suffix}"

    def copy_manifest(self, manifest_url: str, iam_role_arn: str) -> str:
        """Redshift only: COPY every object the manifest lists into the staging table."""
        if iam_role_arn == "default":
            role = "default"
        elif _IAM_ROLE.fullmatch(iam_role_arn):
            role = literal(iam_role_arn)
        else:
            raise ValueError(f"{iam_role_arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>) "
                             "or 'default'")
        return f"COPY {ident(STAGE)} FROM {manifest_url_literal(manifest_url)} IAM_ROLE {role} FORMAT AS PARQUET MANIFEST"

    def after_copy(self, manifest_key: str, objects: int, etag: str | None = None) -> list[str]:
        """Deduplicate, guard, MERGE and audit; the last statement returns the counts.

        A manifest counts as loaded when the audit has its key with the same ETag (or
        with none recorded). A manifest rewritten with other content is merged again —
        harmless, the MERGE keeps the newest versions — and its audit row replaced.
        """
        d, key = self.dialect, literal(manifest_key)
        loaded = f'"manifest_key" = {key}' + (f' AND ("etag" = {literal(etag)} OR "etag" IS NULL)' if etag else "")
        cols = ", ".join(ident(n) for n in self.names)
        updates = ", ".join(f"{ident(n)} = {ident('s', n)}" for n in self.names if n != "record_id")
        values = ", ".join(ident("s", n) for n in self.names)
        newest, stage, counts = ident(NEWEST), ident(STAGE), ident(COUNTS)
        already = f"SELECT 1 FROM {self.audit} WHERE {loaded}"
        return [
            # At most one source row per record_id: the newest version wins.
            f"CREATE TEMP TABLE {newest}{d.temp_suffix} AS SELECT {cols} FROM (SELECT {cols}, "
            'ROW_NUMBER() OVER (PARTITION BY "record_id" ORDER BY "source_version" DESC, "processed_at" DESC) '
            f'AS "_rank" FROM {stage}) AS "ranked" WHERE "_rank" = 1',
            # A replayed or older version never overwrites a newer one.
            f"DELETE FROM {newest} USING {self.encounters} WHERE {newest}.\"record_id\" = {self.encounters}.\"record_id\" "
            f"AND {self.encounters}.\"source_version\" >= {newest}.\"source_version\"",
            f"DELETE FROM {newest} WHERE EXISTS ({already})",
            f'CREATE TEMP TABLE {counts}{d.temp_suffix} AS SELECT "staged"."n" AS "rows_staged", '
            '"merging"."n" AS "rows_merged", "done"."n" AS "already_loaded" '
            f'FROM (SELECT COUNT(*) AS "n" FROM {stage}) AS "staged" '
            f'CROSS JOIN (SELECT COUNT(*) AS "n" FROM {newest}) AS "merging" '
            f'CROSS JOIN (SELECT COUNT(*) AS "n" FROM {self.audit} WHERE {loaded}) AS "done"',
            f'MERGE INTO {self.encounters} USING {newest} AS "s" ON {self.encounters}."record_id" = "s"."record_id" '
            f'WHEN MATCHED THEN UPDATE SET {updates}, "loaded_at" = {d.now} '
            f'WHEN NOT MATCHED THEN INSERT ({cols}, "loaded_at") VALUES ({values}, {d.now})',
            f'DELETE FROM {self.audit} WHERE "manifest_key" = {key} '
            f'AND EXISTS (SELECT 1 FROM {counts} WHERE "already_loaded" = 0)',
            f'INSERT INTO {self.audit} ("manifest_key", "objects", "rows", "rows_merged", "loaded_at", "etag") '
            f'SELECT {key}, {int(objects)}, "rows_staged", "rows_merged", {d.now}, '
            f'{literal(etag) if etag else "NULL"} FROM {counts} WHERE "already_loaded" = 0',
            f'SELECT "rows_staged", "rows_merged", "already_loaded" FROM {counts}',
        ]

    def redshift_load(self, manifest_url: str, manifest_key: str, objects: int, iam_role_arn: str,
                      etag: str | None = None) -> list[str]:
        """The whole Redshift load of one manifest, to run as one transaction."""
        return [self.lock_audit(), self.create_staging(), self.copy_manifest(manifest_url, iam_role_arn),
                *self.after_copy(manifest_key, objects, etag)]

    # -- the load lease (what redshift_lifecycle checks before pausing) ---------------

    def acquire_lease(self, holder: str, seconds: int) -> list[str]:
        """Take the lease unless a live one exists; the last statement returns its holder."""
        d, name = self.dialect, literal(LOAD_LOCK_NAME)
        lock = f"LOCK TABLE {self.lock}{d.lock_mode}" if d.lock_mode else f"LOCK {self.lock}"
        return [
            lock,
            f'DELETE FROM {self.lock} WHERE "expires_at" < {d.now}',
            f'INSERT INTO {self.lock} ("name", "holder", "acquired_at", "expires_at") '
            f"SELECT {name}, {literal(holder)}, {d.now}, {d.seconds_from_now(seconds)} "
            f'FROM (SELECT COUNT(*) AS "n" FROM {self.lock} WHERE "name" = {name}) AS "held" WHERE "held"."n" = 0',
            f'SELECT "holder", "acquired_at", "expires_at" FROM {self.lock} WHERE "name" = {name}',
        ]

    def renew_lease(self, holder: str, seconds: int) -> str:
        return (f'UPDATE {self.lock} SET "expires_at" = {self.dialect.seconds_from_now(seconds)} '
                f'WHERE "name" = {literal(LOAD_LOCK_NAME)} AND "holder" = {literal(holder)}')

    def release_lease(self, holder: str) -> str:
        return f'DELETE FROM {self.lock} WHERE "name" = {literal(LOAD_LOCK_NAME)} AND "holder" = {literal(holder)}'

    def live_leases(self) -> str:
        return (f'SELECT "holder", "acquired_at", "expires_at" FROM {self.lock} '
                f'WHERE "expires_at" > {self.dialect.now} ORDER BY "acquired_at"')
