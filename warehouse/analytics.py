"""Analytics views: weekly cases and incidence, top diagnoses, small cells suppressed.

Two layers, in two schemas:

- ``<analytics>`` (internal, unsuppressed): ``encounters`` — one row per record from
  the lake load and the RDS replica together (a record routed both ways counts once;
  the newest source version wins); ``reference_district_population`` — filled from
  ``reference.load_geography()``; ``weekly_cases_{district,region,country}`` — cases
  per diagnosis group and ISO week with incidence per 100,000 (district population;
  regions and countries sum their districts); ``diagnosis_counts_region_week``.
- ``<published>`` (what partners read): the same weekly counts with small cells
  suppressed, and ``top_diagnoses_region_week`` (per region and week, up to ten codes
  of 5 cases or more, each with its diagnosis group).

Small-cell suppression: a count of 1 to 4 is published as NULL (incidence too), with
``suppressed`` true. The published counts share totals (districts add up to their
region, regions to their country, a region's codes of a group to the region's count
of that group), so hiding small counts alone let them be recovered by subtraction;
``warehouse.suppression`` also hides the fewest further cells (complementary
suppression) until no combination of the published sums pins a hidden count or
leaves 1 to 4 cases among a region's unlisted codes. Because that is decided over all
counts together, the published views read a **snapshot** taken at each publish
(``<analytics>.published_*`` tables, replaced in one transaction): they are as of the
last ``publish_analytics``, not live; the internal views are live.

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
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg

from reference import load_geography
from warehouse.errors import StatementFailed
from warehouse.postgres import PostgresWarehouse
from warehouse.replicator import ensure_replica_tables
from warehouse.statements import Dialect, ident, literal
from warehouse.suppression import components, protect
from warehouse.tables import WarehouseSchemas, lake_columns
from warehouse.targets import Warehouse

__all__ = ["SMALL_CELL_THRESHOLD", "TOP_DIAGNOSES", "AnalyticsStatements", "Snapshot", "publish_analytics",
           "reference_population_rows"]

SMALL_CELL_THRESHOLD = 5
TOP_DIAGNOSES = 10  # codes listed per region and week
_INSERT_ROWS = 500  # rows per INSERT statement (the Redshift Data API takes 100 kB a statement)

log = logging.getLogger(__name__)

_WEEK_START = "CAST(DATE_TRUNC('week', CAST(e.\"encounter_date\" AS TIMESTAMP)) AS DATE)"


def reference_population_rows() -> list[tuple[str, str, str, str, str, int]]:
    """(country_code, region_id, region, district_id, district, population) per district."""
    return [(d.country_code, d.region_id, d.region, d.district_id, d.name, d.population)
            for d in load_geography().districts.values()]


def publish_analytics(warehouse: Warehouse, *, readers: Sequence[str] = ()) -> int:
    """Replace the views, grant ``readers`` the published ones and refresh the reference
    population, in one transaction; then read the counts, decide what to suppress and
    replace the published snapshot, in a second.

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
    # One statement, so the districts and the codes are counted from the same data.
    snapshot = Snapshot.build(warehouse.execute([statements.read_counts()]), rows, threshold=statements.threshold)
    warehouse.execute(statements.fill_snapshot(snapshot))
    log.info("published %d district, %d region, %d country and %d top-diagnosis rows; %d of %d counts suppressed",
             len(snapshot.district), len(snapshot.region), len(snapshot.country), len(snapshot.top),
             snapshot.suppressed, len(snapshot.district) + len(snapshot.region) + len(snapshot.country))
    return len(rows)


def _incidence(cases: int, population: int | None) -> Decimal | None:
    if not population:
        return None
    return (Decimal(cases) * 100000 / Decimal(population)).quantize(Decimal("0.01"), ROUND_HALF_UP)


class Snapshot:
    """The published rows, suppression decided (``warehouse.suppression``), as tuples in
    the published views' column order."""

    def __init__(self) -> None:
        self.district: list[tuple[Any, ...]] = []
        self.region: list[tuple[Any, ...]] = []
        self.country: list[tuple[Any, ...]] = []
        self.top: list[tuple[Any, ...]] = []
        self.suppressed = 0

    @classmethod
    def build(cls, counts: Iterable[Sequence[Any]], reference: Sequence[tuple[str, str, str, str, str, int]],
              *, threshold: int = SMALL_CELL_THRESHOLD) -> Snapshot:
        """From ``AnalyticsStatements.read_counts`` rows and the reference population."""
        districts: list[tuple[str, str, str, str, str, int]] = []
        codes: list[tuple[str, str, str, str, str, int]] = []
        weeks: dict[str, date] = {}
        district_population: dict[tuple[str, str, str], int | None] = {}
        names: dict[tuple[str, str, str], str] = {}
        for kind, cc, region, district, group, week, week_start, cases, population, code, name in counts:
            weeks[week] = week_start
            if kind == "d":
                districts.append((cc, region, district, group, week, int(cases)))
                district_population[(cc, region, district)] = population
            else:
                codes.append((cc, region, code, group, week, int(cases)))
                names[(cc, region, code, week)] = name
        listed = _top_candidates(codes, threshold)
        parts = components(districts, codes)
        hidden: dict[tuple[str, str, str], set[tuple[str, ...]]] = {}
        for (cc, group, week), component in parts.items():
            component.listed = {c for c in component.counts
                                if c[0] == "code" and c[3] in listed.get((cc, c[2], week), ())}
            hidden[(cc, group, week)] = protect(component, threshold)

        region_population: dict[tuple[str, str], int] = defaultdict(int)
        country_population: dict[str, int] = defaultdict(int)
        for cc, _, region, _, _, population in reference:
            region_population[(cc, region)] += population
            country_population[cc] += population
        out = cls()
        shown_codes: dict[tuple[str, str, str], list[tuple[int, str, str]]] = defaultdict(list)
        for (cc, group, week), component in sorted(parts.items()):
            for cell, cases in sorted(component.counts.items()):
                hide = cell in hidden[(cc, group, week)]
                if cell[0] == "code":
                    if cell in component.listed and not hide:
                        shown_codes[(cc, cell[2], week)].append((cases, cell[3], group))
                    continue
                out.suppressed += hide
                population: int | None
                if cell[0] == "district":
                    population, target = district_population.get((cc, cell[2], cell[3])), out.district
                elif cell[0] == "region":
                    population, target = region_population.get((cc, cell[2])), out.region
                else:
                    population, target = country_population.get(cc), out.country
                target.append((*cell[1:], group, week, weeks[week], None if hide else cases, population,
                               None if hide else _incidence(cases, population), hide))
        for (cc, region, week), entries in sorted(shown_codes.items()):
            for rank, (cases, code, group) in enumerate(sorted(entries, key=lambda e: (-e[0], e[1])), 1):
                out.top.append((cc, region, week, weeks[week], rank, code, names[(cc, region, code, week)], group, cases))
        return out


def _top_candidates(codes: Iterable[tuple[str, str, str, str, str, int]],
                    threshold: int) -> dict[tuple[str, str, str], set[str]]:
    """(country, region, week) -> the codes the top-diagnoses view may list: the
    ``TOP_DIAGNOSES`` largest of ``threshold`` cases or more (suppression may drop some)."""
    ranked: dict[tuple[str, str, str], list[tuple[int, str]]] = defaultdict(list)
    for cc, region, code, _, week, cases in codes:
        if cases >= threshold:
            ranked[(cc, region, week)].append((-cases, code))
    return {key: {code for _, code in sorted(entries)[:TOP_DIAGNOSES]} for key, entries in ranked.items()}


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
        for name, columns in self.published_columns().items():
            out.append((self._pub(name), f"SELECT {', '.join(ident(c) for c, _ in columns)} "
                                         f"FROM {self._snapshot(name)}"))
        return out

    def _snapshot(self, name: str) -> str:
        return ident(self.s.analytics, f"published_{name}")

    def published_columns(self) -> dict[str, list[tuple[str, str]]]:
        """Published view -> its (column, type), in order; the snapshot tables have the same."""
        lake = {c.name: self.d.column_type(c) for c in lake_columns()}
        counts = [("week_start", "DATE"), ("cases", "BIGINT"), ("population", "BIGINT"),
                  ("incidence_per_100k", "NUMERIC(18,2)"), ("suppressed", "BOOLEAN")]
        out = {}
        for level in self.WEEKLY_LEVELS:
            keys = {"district": ["country_code", "region", "district"], "region": ["country_code", "region"],
                    "country": ["country_code"]}[level]
            out[f"weekly_cases_{level}"] = [(k, lake[k]) for k in [*keys, "diagnosis_group", "epi_week"]] + counts
        out["top_diagnoses_region_week"] = [
            *((k, lake[k]) for k in ("country_code", "region", "epi_week")), ("week_start", "DATE"),
            ("rank", "INTEGER"), *((k, lake[k]) for k in ("icd10_code", "icd10_name", "diagnosis_group")),
            ("cases", "BIGINT")]
        return out

    def _schemas_and_reference(self) -> list[str]:
        snapshots = [f"CREATE TABLE IF NOT EXISTS {self._snapshot(name)} ("
                     + ", ".join(f"{ident(c)} {t}" for c, t in columns) + ")"
                     for name, columns in self.published_columns().items()]
        return [f"CREATE SCHEMA IF NOT EXISTS {ident(self.s.analytics)}",
                f"CREATE SCHEMA IF NOT EXISTS {ident(self.s.published)}",
                f'CREATE TABLE IF NOT EXISTS {self.population} ("country_code" VARCHAR(2) NOT NULL, '
                '"region_id" VARCHAR(16) NOT NULL, "region" VARCHAR(256) NOT NULL, '
                '"district_id" VARCHAR(16) NOT NULL, "district" VARCHAR(256) NOT NULL, '
                '"population" BIGINT NOT NULL, PRIMARY KEY ("district_id"))', *snapshots]

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

    def read_counts(self) -> str:
        """District counts and region code counts in one statement (one consistent read):
        (kind 'd' or 'c', country, region, district, group, week, week_start, cases,
        population, icd10_code, icd10_name)."""
        text = {c.name: self.d.column_type(c) for c in lake_columns()}
        null = lambda column: f"CAST(NULL AS {text[column]})"  # noqa: E731
        return ("SELECT 'd' AS \"kind\", \"country_code\", \"region\", \"district\", \"diagnosis_group\", "
                '"epi_week", "week_start", "cases", "population", '
                f'{null("icd10_code")} AS "icd10_code", {null("icd10_name")} AS "icd10_name" '
                f'FROM {self._an("weekly_cases_district")} UNION ALL '
                f'SELECT \'c\', "country_code", "region", {null("district")}, "diagnosis_group", "epi_week", '
                f'"week_start", "cases", CAST(NULL AS BIGINT), "icd10_code", "icd10_name" '
                f'FROM {self._an("diagnosis_counts_region_week")}')

    def fill_snapshot(self, snapshot: Snapshot) -> list[str]:
        """Replace every snapshot table's rows with ``snapshot``'s (run as one transaction)."""
        out: list[str] = []
        tables = {"weekly_cases_district": snapshot.district, "weekly_cases_region": snapshot.region,
                  "weekly_cases_country": snapshot.country, "top_diagnoses_region_week": snapshot.top}
        for name, columns in self.published_columns().items():
            table, rows = self._snapshot(name), tables[name]
            out.append(f"DELETE FROM {table}")
            names = ", ".join(ident(c) for c, _ in columns)
            for start in range(0, len(rows), _INSERT_ROWS):
                values = ", ".join("(" + ", ".join(_sql_value(v) for v in row) + ")"
                                   for row in rows[start:start + _INSERT_ROWS])
                out.append(f"INSERT INTO {table} ({names}) VALUES {values}")
        return out

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


def _sql_value(value: Any) -> str:
    """A literal for the snapshot INSERTs (the values come from the warehouse's own views)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, date):
        return f"CAST('{value.isoformat()}' AS DATE)"
    return literal(str(value))
