"""The contract every spreadsheet source fulfils, so the poller does not care where rows come from.

The poller calls ``read_tabs`` once per poll. Implementations: ``GoogleSheetSource``
(the Sheets API through gspread) and ``LocalSheetSource`` (CSV and XLSX files, for the demo
and for facilities that export instead of sharing).
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["SheetSource", "TabValues"]

TabValues = dict[str, list[list[str]]]
"""Tab title -> the tab's cell text, row by row, starting at cell A1."""


class SheetSource(Protocol):
    """A spreadsheet the poller reads in one batched call per poll."""

    @property
    def sheet_id(self) -> str:
        """Identifies the spreadsheet in keys and checkpoints (stable across restarts)."""
        ...

    def read_tabs(self) -> TabValues:
        """Every polled tab's values as they are now."""
        ...
