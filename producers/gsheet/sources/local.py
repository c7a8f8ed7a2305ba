"""A spreadsheet on disk: CSV or XLSX, for facilities that export their sheet instead of sharing it.

``path`` is one ``.csv`` file (one tab), one ``.xlsx`` workbook (each worksheet a
tab), or a folder of such files (every CSV file a tab, every worksheet of every
workbook a tab). Also the demo's and the tests' way to run the poller without Google
credentials. Cells come out as the text a person sees: dates as ISO dates, whole
numbers without ``.0``, formulas as their last computed value. Files are read whole
in one go; replace a file atomically (write, then rename) so a poll never sees half
of it.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from producers.gsheet.errors import SheetAccessError
from producers.gsheet.sources.base import TabValues

__all__ = ["LocalSheetSource", "cell_text"]

_SUFFIXES = (".csv", ".xlsx")


def cell_text(value: Any) -> str:
    """An XLSX cell as the text the sheet shows (what a Google Sheet's API returns as formatted)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class LocalSheetSource:
    """Reads ``path`` (see the module's docstring) into tabs of cell text."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def sheet_id(self) -> str:
        return self.path.name

    def _files(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file())
        if self.path.suffix.lower() in _SUFFIXES and self.path.is_file():
            return [self.path]
        raise SheetAccessError(
            f"{self.path} is neither a .csv or .xlsx file nor a folder of them (set DAAS_GSHEET_LOCAL_PATH to one)")

    def read_tabs(self) -> TabValues:
        """Every tab's rows as text: a CSV file's stem, or a worksheet's title, is the tab title."""
        tabs: TabValues = {}
        for file in self._files():
            found = _read_csv(file) if file.suffix.lower() == ".csv" else _read_xlsx(file)
            for title, rows in found.items():
                if title in tabs:
                    raise SheetAccessError(f"two tabs are called {title!r} in {self.path}; rename one")
                tabs[title] = rows
        return tabs


def _read_csv(file: Path) -> TabValues:
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:
            return {file.stem: [list(row) for row in csv.reader(handle)]}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SheetAccessError(f"{file} cannot be read as UTF-8 CSV: {exc}") from exc


def _read_xlsx(file: Path) -> TabValues:
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except (OSError, BadZipFile, InvalidFileException, KeyError, ValueError) as exc:  # zip and XML errors
        raise SheetAccessError(f"{file} cannot be read as an XLSX workbook: {exc}") from exc
    try:
        tabs: TabValues = {}
        for sheet in workbook.worksheets:
            rows = [[cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
            while rows and not any(rows[-1]):  # formatting can make trailing rows look used
                rows.pop()
            tabs[sheet.title] = rows
        return tabs
    finally:
        workbook.close()
