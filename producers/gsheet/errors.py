"""Errors of the sheet poller, rooted in the project hierarchy (``daas.errors``).

``SheetUnavailable`` and ``CheckpointUnavailable`` are retryable: the Sheets API kept
answering 429/5xx (or was unreachable) after the retries the backoff policy allows,
or the checkpoint topic could not be read to its end in time. The poller's run loop
logs a ``SheetUnavailable`` and polls again at the next interval. Everything else is
fatal for the operation that raised it.
"""

from __future__ import annotations

from daas.errors import DaasError, Retryable

__all__ = ["CheckpointUnavailable", "SheetAccessError", "SheetError", "SheetUnavailable"]


class SheetError(DaasError):
    """A spreadsheet could not be read or its contents could not be turned into rows."""


class SheetUnavailable(SheetError, Retryable):
    """The Sheets API is rate limiting or failing; the same poll may succeed later."""


class SheetAccessError(SheetError):
    """The spreadsheet, a tab or the credentials are wrong; retrying will not help."""


class CheckpointUnavailable(SheetError, Retryable):
    """The checkpoint topic could not be read to its end before the timeout."""
