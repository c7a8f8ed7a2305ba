"""What the surveillance report reads, all from the warehouse, in one consistent read.

Counts come from the published views only (``<published>.weekly_cases_*`` and
``top_diagnoses_region_week``), whose small cells ``warehouse.analytics`` has already
suppressed — with the complementary suppression that stops a hidden count being
worked out by subtraction — so the report shows nothing a partner could not read
there. Alerts and dead letters come from the RDS replica (``<rds>.surveillance_alerts``,
``<rds>.dead_letters``, written by the events sinks); the overview from the internal
views. A relation that does not exist yet (nothing loaded, published or replicated)
reads as no rows: the report then says "no data yet".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg

from warehouse.statements import ident
from warehouse.tables import WarehouseSchemas

__all__ = ["AlertRow", "Cell", "DeadLetterCount", "Overview", "ReportData", "TopCode", "read_report_data"]


@dataclass(frozen=True)
class Cell:
    """One published weekly count; ``cases`` None when suppressed (``district`` None above
    district level, ``region`` None at country level)."""

    country_code: str
    region: str | None
    district: str | None
    diagnosis_group: str
    epi_week: str
    week_start: date
    cases: int | None
    population: int | None
    incidence_per_100k: Decimal | None
    suppressed: bool


@dataclass(frozen=True)
class TopCode:
    """One line of the published top diagnoses of a region and week (5 cases or more)."""

    country_code: str
    region: str
    epi_week: str
    rank: int
    icd10_code: str
    icd10_name: str
    diagnosis_group: str
    cases: int


@dataclass(frozen=True)
class AlertRow:
    country_code: str
    region: str | None
    district: str
    diagnosis_group: str
    epi_week: str
    level: str
    method: str
    cases: int
    incidence_per_100k: float | None
    threshold: float
    raised_at: datetime


@dataclass(frozen=True)
class DeadLetterCount:
    reason: str
    stage: str
    source_name: str | None
    source_topic: str
    count: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True)
class Overview:
    encounters: int = 0
    countries: tuple[str, ...] = ()
    first_week: str | None = None
    last_week: str | None = None
    last_load_at: datetime | None = None
    last_sync_at: datetime | None = None


@dataclass
class ReportData:
    overview: Overview = field(default_factory=Overview)
    district: list[Cell] = field(default_factory=list)
    region: list[Cell] = field(default_factory=list)
    country: list[Cell] = field(default_factory=list)
    top_codes: list[TopCode] = field(default_factory=list)
    alerts: list[AlertRow] = field(default_factory=list)
    dead_letters: list[DeadLetterCount] = field(default_factory=list)


def _rows(conn: psycopg.Connection, query: str) -> list[tuple[Any, ...]]:
    try:
        with conn.transaction():
            return conn.execute(query).fetchall()  # type: ignore[arg-type]
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
        return []


def read_report_data(conn: psycopg.Connection, schemas: WarehouseSchemas) -> ReportData:
    """Everything the report shows, read in one repeatable-read transaction (so the
    sections agree with each other)."""
    with conn.transaction():
        conn.execute("set transaction isolation level repeatable read")
        return ReportData(overview=_overview(conn, schemas), district=_cells(conn, schemas, "district"),
                          region=_cells(conn, schemas, "region"), country=_cells(conn, schemas, "country"),
                          top_codes=_top_codes(conn, schemas), alerts=_alerts(conn, schemas),
                          dead_letters=_dead_letters(conn, schemas))


def _overview(conn: psycopg.Connection, s: WarehouseSchemas) -> Overview:
    found = _rows(conn, f"select count(*), min(epi_week), max(epi_week) from {ident(s.analytics, 'encounters')}")
    countries = _rows(conn, f"select distinct country_code from {ident(s.analytics, 'encounters')} order by 1")
    load = _rows(conn, f"select max(loaded_at) from {ident(s.lake, 'load_audit')}")
    sync = _rows(conn, f"select max(synced_at) from {ident(s.rds, 'replication_state')}")
    total, first, last = found[0] if found else (0, None, None)
    return Overview(int(total), tuple(c for (c,) in countries), first, last, load[0][0] if load else None,
                    sync[0][0] if sync else None)


def _cells(conn: psycopg.Connection, s: WarehouseSchemas, level: str) -> list[Cell]:
    place = {"district": '"country_code", "region", "district"', "region": '"country_code", "region", NULL',
             "country": '"country_code", NULL, NULL'}[level]
    rows = _rows(conn, f'select {place}, "diagnosis_group", "epi_week", "week_start", "cases", "population", '
                       f'"incidence_per_100k", "suppressed" from {ident(s.published, f"weekly_cases_{level}")} '
                       f'order by 1, 2, 3, 4, 5')
    return [Cell(*row[:6], None if row[6] is None else int(row[6]), row[7], row[8], bool(row[9])) for row in rows]


def _top_codes(conn: psycopg.Connection, s: WarehouseSchemas) -> list[TopCode]:
    rows = _rows(conn, 'select "country_code", "region", "epi_week", "rank", "icd10_code", "icd10_name", '
                       f'"diagnosis_group", "cases" from {ident(s.published, "top_diagnoses_region_week")} '
                       "order by 1, 2, 3, 4")
    return [TopCode(*row[:7], int(row[7])) for row in rows]


def _alerts(conn: psycopg.Connection, s: WarehouseSchemas) -> list[AlertRow]:
    rows = _rows(conn, 'select a."country_code", p."region", a."district", a."diagnosis_group", a."epi_week", '
                       'a."level", a."method", a."cases", a."incidence_per_100k", a."threshold", a."raised_at" '
                       f'from {ident(s.rds, "surveillance_alerts")} as a '
                       f'left join {ident(s.analytics, "reference_district_population")} as p '
                       'on p."country_code" = a."country_code" and p."district" = a."district" '
                       'order by a."raised_at", a."alert_id"')
    return [AlertRow(*row) for row in rows]


def _dead_letters(conn: psycopg.Connection, s: WarehouseSchemas) -> list[DeadLetterCount]:
    rows = _rows(conn, 'select "reason", "stage", "source_name", "source_topic", count(*), min("failed_at"), '
                       f'max("failed_at") from {ident(s.rds, "dead_letters")} '
                       'group by 1, 2, 3, 4 order by 5 desc, 1, 2, 3, 4')
    return [DeadLetterCount(*row) for row in rows]
