"""The surveillance report: one self-contained HTML page (plus its charts as PNG files)
from warehouse queries only — cases and incidence by region and district, top
diagnoses per country, epidemic curves with the alert thresholds, the outbreak alerts
and data quality — with small cells suppressed as the published views suppress them.

``queries`` reads the warehouse, ``epi`` decides what to show, ``charts`` draws,
``html`` renders. Called by ``daas report`` and at the end of the demo.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from console.report import charts
from console.report.epi import cases_table, choose_curves, main_groups, report_week, shown_alerts, top_codes_per_country
from console.report.html import Chart, Page, render
from console.report.queries import read_report_data
from daas.settings import Settings
from warehouse.clients import connect
from warehouse.config import WarehouseConfig
from warehouse.tables import WarehouseSchemas

__all__ = ["REPORT_FILE", "default_report_dir", "write_report"]

REPORT_FILE = "report.html"
_FIXED_CHARTS = ("incidence_by_region.png", "top_diagnoses.png", "dead_letters.png")


def default_report_dir(settings: Settings) -> Path:
    """``<DAAS_RUNTIME_DIR>/report``."""
    return settings.runtime_dir / "report"


def write_report(settings: Settings, out_dir: Path, *, schemas: WarehouseSchemas | None = None,
                 diseases: Sequence[str] | None = None, today: date | None = None) -> Path:
    """Write ``report.html`` and its charts (``*.png``) into ``out_dir``; return the HTML's path.

    Reads the warehouse at ``DAAS_WAREHOUSE_DSN`` (``schemas``: the configured ones by
    default); ``diseases`` are those the curves cover (default
    ``DAAS_SURVEILLANCE_DISEASES``); ``today`` decides the latest complete ISO week. An
    empty warehouse gives a report that says so. WarehouseUnavailable if it is down.
    """
    schemas = schemas or WarehouseConfig().schemas
    diseases = list(settings.surveillance_diseases if diseases is None else diseases)
    generated_at = datetime.now(tz=UTC)
    with connect(settings, "warehouse_dsn") as conn:
        data = read_report_data(conn, schemas)
    week = report_week((c.epi_week for c in data.country), today or generated_at.date())
    page = Page(generated_at, data.overview, week, dead_letters=data.dead_letters,
                alerts=shown_alerts(data.alerts, data.district))
    if week is not None:
        page.groups = main_groups(data.country, week)
        page.regions = cases_table(data.region, week, page.groups)
        page.districts = cases_table(data.district, week, page.groups)
        page.top = top_codes_per_country(data.top_codes, week)
        if page.regions and page.groups:
            page.charts["incidence"] = Chart("incidence_by_region.png", f"Incidence per 100,000 by region, {week}",
                                             charts.incidence_by_region_chart(page.regions, page.groups, week))
        if page.top:
            page.charts["top"] = Chart("top_diagnoses.png", f"Top diagnoses per country, {week}",
                                       charts.top_diagnoses_chart(page.top, week))
    for curve in choose_curves(data.district, data.alerts, diseases):
        page.curves.append((curve, Chart(f"epicurve_{curve.slug}.png",
                                         f"Weekly {curve.diagnosis_group} cases in {curve.district}",
                                         charts.epicurve_chart(curve))))
    if data.dead_letters:
        page.charts["dead_letters"] = Chart("dead_letters.png", "Dead letters by reason and source",
                                            charts.dead_letters_chart(data.dead_letters))
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in [*out_dir.glob("epicurve_*.png"), *(out_dir / n for n in _FIXED_CHARTS)]:
        old.unlink(missing_ok=True)  # an earlier report's charts that this one may not have
    for chart in [*page.charts.values(), *(c for _, c in page.curves)]:
        (out_dir / chart.name).write_bytes(chart.png)
    path = out_dir / REPORT_FILE
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render(page), encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a report
    return path
