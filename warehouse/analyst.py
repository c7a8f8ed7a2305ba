"""An analyst's question, answered from the warehouse: the top five diagnoses per
region over the last four weeks (the four ISO weeks up to and including the one that
holds ``as_of``). Counts under 5 are never shown; ``share`` is the diagnosis's share
of all the region's encounters in the window.

Run it with ``python -m warehouse.analyst [--as-of 2026-11-26]`` after ``daas demo``;
the README shows its output.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TextIO

import psycopg

from warehouse.analytics import SMALL_CELL_THRESHOLD
from warehouse.tables import WarehouseSchemas

__all__ = ["DiagnosisRank", "format_table", "four_week_window", "main", "top_diagnoses_per_region",
           "top_diagnoses_sql"]

_SQL = """\
WITH recent AS (
    SELECT country_code, region, icd10_code, MAX(icd10_name) AS icd10_name, COUNT(*) AS cases
    FROM {schema}.encounters
    WHERE encounter_date BETWEEN %(first_day)s AND %(last_day)s
    GROUP BY country_code, region, icd10_code
), totals AS (
    SELECT country_code, region, SUM(cases) AS region_cases
    FROM recent
    GROUP BY country_code, region
), ranked AS (
    SELECT r.country_code, r.region, r.icd10_code, r.icd10_name, r.cases, t.region_cases,
           ROW_NUMBER() OVER (PARTITION BY r.country_code, r.region
                              ORDER BY r.cases DESC, r.icd10_code) AS rank
    FROM recent AS r
    JOIN totals AS t ON t.country_code = r.country_code AND t.region = r.region
    WHERE r.cases >= {threshold}  -- small cells are never shown
)
SELECT country_code, region, rank, icd10_code, icd10_name, cases,
       ROUND(100.0 * cases / region_cases, 1) AS share_pct
FROM ranked
WHERE rank <= %(top)s
ORDER BY country_code, region, rank"""


def top_diagnoses_sql(schema: str = "analytics") -> str:
    """The query's text; ``schema`` is the analytics schema holding ``encounters``."""
    WarehouseSchemas(analytics=schema)  # validates the name
    return _SQL.format(schema=schema, threshold=SMALL_CELL_THRESHOLD)


@dataclass(frozen=True)
class DiagnosisRank:
    country_code: str
    region: str
    rank: int
    icd10_code: str
    icd10_name: str
    cases: int
    share_pct: Decimal


def four_week_window(as_of: date) -> tuple[date, date]:
    """Monday three ISO weeks before ``as_of``'s week, through ``as_of``."""
    monday = as_of - timedelta(days=as_of.weekday())
    return monday - timedelta(weeks=3), as_of


def top_diagnoses_per_region(conn: psycopg.Connection, *, as_of: date | None = None, top: int = 5,
                             schema: str = "analytics") -> list[DiagnosisRank]:
    """The ``top`` diagnoses per region in the four weeks up to ``as_of`` (default: today, UTC)."""
    first_day, last_day = four_week_window(as_of or datetime.now(tz=UTC).date())
    rows = conn.execute(top_diagnoses_sql(schema),  # type: ignore[arg-type]  # fixed text, validated schema
                        {"first_day": first_day, "last_day": last_day, "top": top}).fetchall()
    return [DiagnosisRank(*row) for row in rows]


def format_table(ranks: Sequence[DiagnosisRank]) -> str:
    """A plain-text table; the country and region are printed once per region."""
    header = ("Country", "Region", "#", "ICD-10", "Diagnosis", "Cases", "Share")
    lines: list[tuple[str, ...]] = []
    previous = None
    for r in ranks:
        place = (r.country_code, r.region)
        lines.append((*(place if place != previous else ("", "")), str(r.rank), r.icd10_code, r.icd10_name,
                      str(r.cases), f"{r.share_pct}%"))
        previous = place
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    right = {2, 5, 6}

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *(fmt(line) for line in lines)])


def main(argv: Sequence[str] | None = None, *, out: TextIO = sys.stdout) -> int:
    """``python -m warehouse.analyst``: print the table for the configured warehouse."""
    from daas.settings import load_settings
    from warehouse.clients import connect

    parser = argparse.ArgumentParser(prog="python -m warehouse.analyst", description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="last day (default: today, UTC)")
    parser.add_argument("--schema", default="analytics", help="analytics schema (default: analytics)")
    args = parser.parse_args(argv)
    as_of = args.as_of or datetime.now(tz=UTC).date()
    first_day, last_day = four_week_window(as_of)
    with connect(load_settings(), "warehouse_dsn") as conn:
        ranks = top_diagnoses_per_region(conn, as_of=as_of, schema=args.schema)
    print(f"Top five diagnoses per region, {first_day} to {last_day} (counts under "
          f"{SMALL_CELL_THRESHOLD} not shown)\n", file=out)
    print(format_table(ranks), file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
