"""A spreadsheet on disk: one CSV file is one tab, a folder of CSV files is a workbook.

Used by the demo and tests to run the poller without Google credentials, and by
facilities that export their sheet instead of sharing it. Only CSV is read: XLSX
would need openpyxl, which the project does not depend on. Files are read whole in
one go (UTF-8, with or without the BOM spreadsheet programs write); replace a file
atomically (write, then rename) so a poll never sees half of it.
"""

from __future__ import annotations

import csv
from pathlib import Path

from producers.gsheet.errors import SheetAccessError
from producers.gsheet.sources.base import TabValues

__all__ = ["LocalSheetSource"]


class LocalSheetSource:
    """Reads ``path`` (a ``.csv`` file, or a folder whose ``*.csv`` files are the tabs)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def sheet_id(self) -> str:
        return self.path.name

    def _files(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(self.path.glob("*.csv"))
        if self.path.suffix.lower() == ".csv" and self.path.is_file():
            return [self.path]
        raise SheetAccessError(
            f"{self.path} is neither a .csv file nor a folder of .csv files "
            "(set DAAS_GSHEET_LOCAL_PATH to one; XLSX is not read, export it as CSV)")

    def read_tabs(self) -> TabValues:
        """Each file's rows as text, the file name without ``.csv`` as the tab title."""
        tabs: TabValues = {}
        for file in self._files():
            try:
                with file.open(newline="", encoding="utf-8-sig") as handle:
                    tabs[file.stem] = [list(row) for row in csv.reader(handle)]
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                raise SheetAccessError(f"{file} cannot be read as UTF-8 CSV: {exc}") from exc
        return tabs
