"""The surveillance report: `daas report`."""

from __future__ import annotations

from pathlib import Path

import typer

from console.cli import app, friendly, out
from daas.settings import load_settings


@app.command("report")
@friendly
def report(out_dir: Path = typer.Option(None, "--out", help="Folder to write report.html and its PNG charts to "
                                        "(default: <DAAS_RUNTIME_DIR>/report).")) -> None:
    """Write the surveillance report from the warehouse: cases and incidence by region and
    district, top diagnoses, epidemic curves with alert thresholds, the alerts and dead
    letters; small cells suppressed as in the published views."""
    from console.report import default_report_dir, write_report

    settings = load_settings()
    path = write_report(settings, out_dir or default_report_dir(settings))
    out.print(f"report: {path.resolve()}", highlight=False)
