"""The generated SQL, checked as text: Redshift's COPY and MERGE rules, column order."""

from __future__ import annotations

import re

import pytest

from schemas import CLEAN_ENCOUNTER, SchemaStore
from schemas.columns import Column, arrow_schema
from warehouse.errors import ManifestError
from warehouse.statements import POSTGRES, REDSHIFT, LakeStatements, ident, literal
from warehouse.tables import WarehouseSchemas, lake_columns

ROLE = "arn:aws:iam::123456789012:role/daas-redshift-copy"
MANIFEST_KEY = "encounters/_manifests/health.clean.lake.v1+0002+00000000000000000042.manifest.json"
MANIFEST_URL = f"s3://daas-lake/{MANIFEST_KEY}"
ETAG = "9b2cf535f27731c974343645a3985328"

# A three-column lake keeps the golden text readable; the real lake is checked below.
TINY = [Column("record_id", "uuid", False), Column("source_version", "long", False),
        Column("processed_at", "timestamp-millis", False)]

REDSHIFT_TINY_LOAD = [
    'LOCK "lake"."load_audit"',
    'CREATE TEMP TABLE "_daas_stage" ("record_id" VARCHAR(36), "source_version" BIGINT, "processed_at" TIMESTAMPTZ)',
    f"COPY \"_daas_stage\" FROM '{MANIFEST_URL}' IAM_ROLE '{ROLE}' FORMAT AS PARQUET MANIFEST",
    'CREATE TEMP TABLE "_daas_newest" AS SELECT "record_id", "source_version", "processed_at" FROM '
    '(SELECT "record_id", "source_version", "processed_at", ROW_NUMBER() OVER (PARTITION BY "record_id" '
    'ORDER BY "source_version" DESC, "processed_at" DESC) AS "_rank" FROM "_daas_stage") AS "ranked" '
    'WHERE "_rank" = 1',
    'DELETE FROM "_daas_newest" USING "lake"."encounters" WHERE "_daas_newest"."record_id" = '
    '"lake"."encounters"."record_id" AND "lake"."encounters"."source_version" >= "_daas_newest"."source_version"',
    f'DELETE FROM "_daas_newest" WHERE EXISTS (SELECT 1 FROM "lake"."load_audit" WHERE "manifest_key" = '
    f"'{MANIFEST_KEY}' AND (\"etag\" = '{ETAG}' OR \"etag\" IS NULL))",
    'CREATE TEMP TABLE "_daas_counts" AS SELECT "staged"."n" AS "rows_staged", "merging"."n" AS "rows_merged", '
    '"done"."n" AS "already_loaded" FROM (SELECT COUNT(*) AS "n" FROM "_daas_stage") AS "staged" '
    'CROSS JOIN (SELECT COUNT(*) AS "n" FROM "_daas_newest") AS "merging" '
    f'CROSS JOIN (SELECT COUNT(*) AS "n" FROM "lake"."load_audit" WHERE "manifest_key" = \'{MANIFEST_KEY}\' '
    f'AND ("etag" = \'{ETAG}\' OR "etag" IS NULL)) AS "done"',
    'MERGE INTO "lake"."encounters" USING "_daas_newest" AS "s" ON "lake"."encounters"."record_id" = '
    '"s"."record_id" WHEN MATCHED THEN UPDATE SET "source_version" = "s"."source_version", '
    '"processed_at" = "s"."processed_at", "loaded_at" = SYSDATE WHEN NOT MATCHED THEN INSERT '
    '("record_id", "source_version", "processed_at", "loaded_at") VALUES ("s"."record_id", '
    '"s"."source_version", "s"."processed_at", SYSDATE)',
    f'DELETE FROM "lake"."load_audit" WHERE "manifest_key" = \'{MANIFEST_KEY}\' '
    'AND EXISTS (SELECT 1 FROM "_daas_counts" WHERE "already_loaded" = 0)',
    'INSERT INTO "lake"."load_audit" ("manifest_key", "objects", "rows", "rows_merged", "loaded_at", "etag") '
    f"SELECT '{MANIFEST_KEY}', 3, \"rows_staged\", \"rows_merged\", SYSDATE, '{ETAG}' FROM \"_daas_counts\" "
    'WHERE "already_loaded" = 0',
    'SELECT "rows_staged", "rows_merged", "already_loaded" FROM "_daas_counts"',
]


def test_redshift_load_is_exactly_lock_stage_copy_dedupe_guard_merge_audit() -> None:
    statements = LakeStatements(REDSHIFT, WarehouseSchemas(), TINY).redshift_load(MANIFEST_URL, MANIFEST_KEY, 3, ROLE,
                                                                                  ETAG)
    assert statements == REDSHIFT_TINY_LOAD


def _staging_columns(statement: str) -> list[str]:
    body = statement[statement.index("(") + 1: statement.rindex(")")]
    return re.findall(r'"([a-z_0-9]+)" [A-Z]', body)


@pytest.mark.parametrize("dialect", [REDSHIFT, POSTGRES], ids=lambda d: d.name)
def test_staging_table_is_the_parquet_schema_in_field_order(dialect) -> None:  # noqa: ANN001
    parquet_fields = arrow_schema(SchemaStore.default().current(CLEAN_ENCOUNTER).raw).names
    staging = LakeStatements(dialect, WarehouseSchemas()).create_staging()
    # Parquet COPY maps by position and needs exactly as many columns as fields.
    assert _staging_columns(staging) == parquet_fields
    assert len(parquet_fields) == 24
    assert "NOT NULL" not in staging and "PRIMARY KEY" not in staging and "loaded_at" not in staging


def test_the_real_merge_respects_redshifts_rules() -> None:
    sql = LakeStatements(REDSHIFT, WarehouseSchemas(lake="lake_x"))
    statements = sql.redshift_load(MANIFEST_URL, MANIFEST_KEY, 2, ROLE)
    [merge] = [s for s in statements if s.startswith("MERGE")]
    names = [c.name for c in lake_columns()]
    # The target takes no alias; the source is a table with an alias, not a subquery or view.
    assert merge.startswith('MERGE INTO "lake_x"."encounters" USING "_daas_newest" AS "s" ON ')
    # One unconditional WHEN MATCHED, one WHEN NOT MATCHED, no extra predicates.
    assert merge.count("WHEN MATCHED THEN UPDATE SET") == 1 and merge.count("WHEN NOT MATCHED THEN INSERT") == 1
    assert "WHEN MATCHED AND" not in merge and "WHEN NOT MATCHED AND" not in merge
    set_clause = merge.split("UPDATE SET ", 1)[1].split(" WHEN NOT MATCHED", 1)[0]
    targets = re.findall(r'(?:^|, )("[a-z_0-9]+") = ', set_clause)
    # SET names bare target columns, every column except the match key, plus loaded_at.
    assert targets == [f'"{n}"' for n in names if n != "record_id"] + ['"loaded_at"']
    insert_cols = merge.split("INSERT (", 1)[1].split(")", 1)[0]
    assert insert_cols == ", ".join(f'"{n}"' for n in [*names, "loaded_at"])
    values = merge.split("VALUES (", 1)[1].rstrip(")")
    assert values == ", ".join([*(f'"s"."{n}"' for n in names), "SYSDATE"])


def test_redshift_statements_use_nothing_postgres_only() -> None:
    sql = LakeStatements(REDSHIFT, WarehouseSchemas())
    text = "\n".join([*sql.create_tables(), *sql.redshift_load(MANIFEST_URL, MANIFEST_KEY, 1, "default"),
                      *sql.acquire_lease("host:1:abc", 600), sql.renew_lease("host:1:abc", 600),
                      sql.release_lease("host:1:abc"), sql.live_leases()])
    for postgres_only in ("ON COMMIT", "DISTINCT ON", "ON CONFLICT", "::", "now()", "INTERVAL", " UUID",
                          "IF NOT EXISTS \"rows_merged\"", "IN SHARE"):
        assert postgres_only not in text, postgres_only
    assert 'DISTKEY ("record_id") SORTKEY ("encounter_date")' in text
    assert "DATEADD(second, 600, SYSDATE)" in text


def test_postgres_temp_tables_are_dropped_at_commit() -> None:
    sql = LakeStatements(POSTGRES, WarehouseSchemas())
    temps = [s for s in [sql.create_staging(), *sql.after_copy(MANIFEST_KEY, 1)] if s.startswith("CREATE TEMP")]
    assert len(temps) == 3 and all("ON COMMIT DROP" in s for s in temps)
    assert sql.lock_audit() == 'LOCK TABLE "lake"."load_audit" IN SHARE ROW EXCLUSIVE MODE'


def test_copy_accepts_a_role_arn_or_default_and_nothing_else() -> None:
    sql = LakeStatements(REDSHIFT, WarehouseSchemas())
    assert sql.copy_manifest(MANIFEST_URL, "default").endswith("IAM_ROLE default FORMAT AS PARQUET MANIFEST")
    for bad in ("arn:aws:iam::123:role/x", "role' --", ""):
        with pytest.raises(ValueError, match="IAM role ARN"):
            sql.copy_manifest(MANIFEST_URL, bad)
    for bad_url in ("s3://daas-lake/a'b.json", "https://daas-lake/x.json", "s3://daas-lake/a b.json"):
        with pytest.raises(ManifestError, match="S3-safe"):
            sql.copy_manifest(bad_url, ROLE)


def test_literals_and_identifiers_are_validated() -> None:
    assert literal("Kasaï-Oriental") == "'Kasaï-Oriental'"
    assert literal("d'Ivoire") == "'d''Ivoire'"
    for bad in ("a\\b", "line\nbreak", "nul\x00"):
        with pytest.raises(ValueError, match="backslash or control"):
            literal(bad)
    assert ident("lake", "encounters") == '"lake"."encounters"'
    for bad in ("Lake", "lake;drop", 'a"b', ""):
        with pytest.raises(ValueError, match="identifier"):
            ident(bad)


def test_every_avro_kind_has_a_type_in_both_dialects() -> None:
    kinds = {"string", "uuid", "enum", "boolean", "int", "long", "float", "double", "date",
             "timestamp-millis", "timestamp-micros"}
    assert set(REDSHIFT.types) == set(POSTGRES.types) == kinds
    assert REDSHIFT.types["uuid"] == "VARCHAR(36)" and POSTGRES.types["uuid"] == "UUID"


def test_lease_statements_take_only_a_free_or_expired_lease() -> None:
    acquire = LakeStatements(POSTGRES, WarehouseSchemas()).acquire_lease("h:1:x", 900)
    assert acquire[0] == 'LOCK TABLE "lake"."load_lock" IN SHARE ROW EXCLUSIVE MODE'
    assert acquire[1] == 'DELETE FROM "lake"."load_lock" WHERE "expires_at" < now()'
    assert "now() + INTERVAL '900 seconds'" in acquire[2] and 'WHERE "held"."n" = 0' in acquire[2]
    assert acquire[3].startswith('SELECT "holder"')
