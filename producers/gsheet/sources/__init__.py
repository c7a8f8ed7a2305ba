"""Where the poller reads rows from: a Google spreadsheet, or CSV or XLSX files on disk."""

from producers.gsheet.sources.base import SheetSource, TabValues
from producers.gsheet.sources.google_api import SHEETS_API_BASE_URL, ApiUsage, GoogleSheetSource
from producers.gsheet.sources.local import LocalSheetSource

__all__ = ["SHEETS_API_BASE_URL", "ApiUsage", "GoogleSheetSource", "LocalSheetSource", "SheetSource", "TabValues"]
