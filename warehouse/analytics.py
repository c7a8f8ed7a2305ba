"""Analytics views: weekly cases and incidence, top diagnoses, small cells suppressed.

Two layers, in two schemas:

- ``<analytics>`` (internal, unsuppressed): ``encounters`` — one row per record from
  the lake load and the RDS replica together (a record routed both ways counts once;
  the newest source version wins); ``reference_district_population`` — filled from
  ``reference.load_geography()``; ``weekly_cases_{district,region,country}`` — cases
  per diagnosis group and ISO week with incidence per 100,000 (district population;
  regions and countries sum their districts); ``diagnosis_counts_region_week``.
- ``<published>`` (what partners read): the same weekly views with small cells
  suppressed, and ``top_diagnoses_region_week``.

Small-cell suppression: a count of 1 to 4 is published as NULL (incidence too), with
``suppressed`` true. Because a region's total is published next to its districts, one
hidden district could be recovered by subtraction; so when exactly one cell among
siblings (same parent, diagnosis group and week) is hidden, the smallest visible
sibling is hidden as well (secondary suppression). Top-diagnosis lists only rank
counts of 5 or more.

The SQL is portable between PostgreSQL and Redshift (no DISTINCT ON, FILTER or
GROUPING SETS); on Redshift the views are late-binding.

Republishing keeps partners' access: the views are replaced in place (``CREATE OR
REPLACE VIEW``), which keeps their grants and the views partners built on them, and
the roles listed in ``published_readers`` are granted ``USAGE`` on the published
schema and ``SELECT`` on its views in the same transaction. Only when a view's
columns changed (a new release) are the views dropped and created anew; then the
configured readers get their grants back at once, other grants do not survive.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import psycopg

from reference import load_geography
from warehouse.errors import StatementFailed
from warehouse.postgres import PostgresWarehouse
from warehouse.replicator import ensure_replica_tables
from warehouse.statements import Dialect, ident, literal
from warehouse.tables import WarehouseSchemas, lake_columns
from warehouse.targets import Warehouse

__all__ = ["SMALL_CELL_THRESHOLD", "AnalyticsStatements", "publish_analytics", "reference_population_rows"]

SMALL_CELL_THRESHOLD = 5

log = logging.getLogger(__name__)

_WEEK_START = "CAST(DATE_TRUNC('week', CAST(e.\"encounter_date\" AS TIMESTAMP)) AS DATE)"


def reference_population_rows() -> list[tuple[str, str, str, str, str, int]]:
    """(country_code, region_id, region, district_id, district, population) per district."""
    return [(d.country_code, d.region_id, d.region, d.district_id, d.name, d.population)
            for d in load_geography().districts.values()]


def publish_analytics(warehouse: Warehouse, *, readers: Sequence[str] = ()) -> int:
    """Replace the views, grant ``readers`` the published ones, refresh the reference
    population, in one transaction.

    Called by the ``warehouse_copy`` DAG after each load, and by the demo. Returns the
    number of districts in the reference table.
    """
    warehouse.ensure_tables()
    if isinstance(warehouse, PostgresWarehouse):  # on Redshift, Airbyte creates the replica
        ensure_replica_tables(warehouse.conn, warehouse.schemas.rds)
    statements = AnalyticsStatements(warehouse.dialect, warehouse.schemas)
    rows = reference_population_rows()
    refresh = statements.grant(readers) + statements.fill_reference(rows)
    try:
        warehouse.execute(statements.create() + refresh)
    except (StatementFailed, psycopg.errors.InvalidTableDefinition, psycopg.errors.FeatureNotSupported) as exc:
        # A view's columns changed: CREATE OR REPLACE cannot do that. The failed
        # transaction changed nothing; rebuild the views from scratch instead.
        log.warning("views changed shape (%s); dropping and recreating them, only the readers %s keep access",
                    exc, list(readers))
        warehouse.execute(statements.recreate() + refresh)
    return len(rows)


class AnalyticsStatements:
    """DDL for the analytics and published views, and the reference population fill."""

    WEEKLY_LEVELS = ("district", "region", "country")

    def __init__(self, dialect: Dialect, schemas: WarehouseSchemas, *, threshold: int = SMALL_CELL_THRESHOLD) -> None:
        self.d = dialect
        self.s = schemas
        self.threshold = int(threshold)
        self.population = ident(schemas.analytics, "reference_district_population")

    def _an(self, name: str) -> str:
        return ident(self.s.analytics, name)

    def _pub(self, name: str) -> str:
        return ident(self.s.published, name)

    def views(self) -> list[tuple[str, str]]:
        """(schema-qualified name, CREATE VIEW statement), dependencies first."""
        out = [(self._an("encounters"), self._encounters())]
        for level in self.WEEKLY_LEVELS:
            out.append((self._an(f"weekly_cases_{level}"), self._weekly(level)))
        out.append((self._an("diagnosis_counts_region_week"), self._diagnosis_counts()))
        for level in self.WEEKLY_LEVELS:
            out.append((self._pub(f"weekly_cases_{level}"), self._published_weekly(level)))
        out.append((self._pub("top_diagnoses_region_week"), self._top_diagnoses()))
        return out

    def _schemas_and_reference(self) -> list[str]:
        return [f"CREATE SCHEMA IF NOT EXISTS {ident(self.s.analytics)}",
                f"CREATE SCHEMA IF NOT EXISTS {ident(self.s.published)}",
                f'CREATE TABLE IF NOT EXISTS {self.population} ("country_code" VARCHAR(2) NOT NULL, '
                '"region_id" VARCHAR(16) NOT NULL, "region" VARCHAR(256) NOT NULL, '
                '"district_id" VARCHAR(16) NOT NULL, "district" VARCHAR(256) NOT NULL, '
                '"population" BIGINT NOT NULL, PRIMARY KEY ("district_id"))']

    def create(self) -> list[str]:
        """Schemas, the reference table and every view, replaced in place (grants and
        dependent views survive), dependencies first."""
        return self._schemas_and_reference() + [
            f"CREATE OR REPLACE VIEW {name} AS {body}{self.d.view_suffix}" for name, body in self.views()]

    def recreate(self) -> list[str]:
        """Like :meth:`create`, but every view dropped first: for when a view's columns changed."""
        views = self.views()
        return (self._schemas_and_reference()
                + [f"DROP VIEW IF EXISTS {name} CASCADE" for name, _ in reversed(views)]
                + [f"CREATE VIEW {name} AS {body}{self.d.view_suffix}" for name, body in views])

    def grant(self, readers: Sequence[str]) -> list[str]:
        """USAGE on the published schema and SELECT on its views for each reader role."""
        schema = ident(self.s.published)
        out: list[str] = []
        for reader in readers:
            out += [f"GRANT USAGE ON SCHEMA {schema} TO {ident(reader)}",
                    f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {ident(reader)}"]
        return out

    def fill_reference(self, rows: Sequence[tuple[str, str, str, str, str, int]] | None = None) -> list[str]:
        """Replace the reference population with ``rows`` (default: the shipped geography)."""
        rows = reference_population_rows() if rows is None else rows
        values = ", ".join(
            "(" + ", ".join([*(literal(v) for v in row[:5]), str(int(row[5]))]) + ")" for row in rows)
        return [f"DELETE FROM {self.population}",
                f'INSERT INTO {self.population} ("country_code", "region_id", "region", "district_id", '
                f'"district", "population") VALUES {values}']

    # -- internal views ---------------------------------------------------------------

    def _encounters(self) -> str:
        cols = ", ".join(ident(c.name) for c in lake_columns())
        lake, rds = ident(self.s.lake, "encounters"), ident(self.s.rds, "encounters")
        return (f'SELECT {cols}, "origin" FROM (SELECT {cols}, "origin", ROW_NUMBER() OVER '
                '(PARTITION BY "record_id" ORDER BY "source_version" DESC, "origin") AS "_rank" FROM '
                f"(SELECT {cols}, 'lake' AS \"origin\" FROM {lake} UNION ALL "
                f"SELECT {cols}, 'rds' AS \"origin\" FROM {rds}) AS \"routed\") AS \"ranked\" "
                'WHERE "_rank" = 1')

    def _weekly(self, level: str) -> str:
        place = {"district": ["country_code", "region", "district"], "region": ["country_code", "region"],
                 "country": ["country_code"]}[level]
        e_place = ", ".join(f'e.{ident(p)}' for p in place)
        population = self.population if level == "district" else (
            f"(SELECT {', '.join(ident(p) for p in place)}, CAST(SUM(\"population\") AS BIGINT) AS \"population\" "
            f"FROM {self.population} GROUP BY {', '.join(ident(p) for p in place)})")
        on = " AND ".join(f"p.{ident(col)} = e.{ident(col)}" for col in place)
        return (f'SELECT {e_place}, e."diagnosis_group", e."epi_week", {_WEEK_START} AS "week_start", '
                'COUNT(*) AS "cases", p."population", '
                'ROUND(COUNT(*) * 100000.0 / p."population", 2) AS "incidence_per_100k" '
                f'FROM {self._an("encounters")} AS e LEFT JOIN {population} AS p ON {on} '
                f'GROUP BY {e_place}, e."diagnosis_group", e."epi_week", {_WEEK_START}, p."population"')

    def _diagnosis_counts(self) -> str:
        return ('SELECT e."country_code", e."region", e."epi_week", '
                f'{_WEEK_START} AS "week_start", e."icd10_code", MAX(e."icd10_name") AS "icd10_name", '
                'MAX(e."diagnosis_group") AS "diagnosis_group", COUNT(*) AS "cases" '
                f'FROM {self._an("encounters")} AS e '
                f'GROUP BY e."country_code", e."region", e."epi_week", {_WEEK_START}, e."icd10_code"')

    # -- published views --------------------------------------------------------------

    def _published_weekly(self, level: str) -> str:
        place = {"district": ["country_code", "region", "district"], "region": ["country_code", "region"],
                 "country": ["country_code"]}[level]
        # Siblings share the parent place, the diagnosis group and the week.
        siblings = ", ".join(ident(c) for c in [*place[:-1], "diagnosis_group", "epi_week"])
        small = f'CASE WHEN "cases" < {self.threshold} THEN 1 ELSE 0 END'
        keys = ", ".join(ident(c) for c in [*place, "diagnosis_group", "epi_week"])
        hidden = '("small" = 1 OR ("small_siblings" = 1 AND "size_rank" = 1))'
        return (f"SELECT {keys}, \"week_start\", "
                f'CASE WHEN {hidden} THEN NULL ELSE "cases" END AS "cases", "population", '
                f'CASE WHEN {hidden} THEN NULL ELSE "incidence_per_100k" END AS "incidence_per_100k", '
                f"CASE WHEN {hidden} THEN TRUE ELSE FALSE END AS \"suppressed\" "
                f'FROM (SELECT w.*, {small} AS "small", '
                f'SUM({small}) OVER (PARTITION BY {siblings}) AS "small_siblings", '
                f'ROW_NUMBER() OVER (PARTITION BY {siblings}, {small} ORDER BY "cases", {keys}) AS "size_rank" '
                f'FROM {self._an("weekly_cases_" + level)} AS w) AS "cells"')

    def _top_diagnoses(self) -> str:
        return ('SELECT "country_code", "region", "epi_week", "week_start", "rank", "icd10_code", "icd10_name", '
                '"diagnosis_group", "cases" FROM (SELECT c.*, ROW_NUMBER() OVER (PARTITION BY "country_code", '
                '"region", "epi_week" ORDER BY "cases" DESC, "icd10_code") AS "rank" '
                f'FROM {self._an("diagnosis_counts_region_week")} AS c WHERE "cases" >= {self.threshold}) AS "ranked" '
                'WHERE "rank" <= 10')
