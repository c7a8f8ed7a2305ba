"""A Google spreadsheet read through the Sheets API v4 with gspread.

Per poll: one metadata read to list the visible tabs (skipped when the tabs are
configured) and one ``values:batchGet`` that returns the used range of every tab at
once — two read requests however many tabs, one when the tabs are configured (plus
one ``open_by_key`` metadata read at start-up). Cells come back as formatted text,
what the person typing sees.

Every HTTP attempt passes the client-side ``RateLimiter`` (60 reads a minute per user
by default). A 408, 429 or 5xx answer, or a connection failure, is retried after a
``daas.backoff.Backoff`` delay (``sheets_backoff``: equal jitter, bounded retries); when the retries are used up the read raises
``SheetUnavailable`` (retryable) and the poller tries again at its next interval.

Why not gspread's own ``BackOffHTTPClient``: in gspread 6.2.1 it is marked "not
production ready"; it retries only when the error *body* parses as Google JSON (a
proxy's HTML 502 has code -1 and is not retried); it has no jitter and ignores
Retry-After; it recurses without a retry limit other than a 128 s delay ceiling; its
attempt counter is left high after a failure so the next call starts with long
waits or gives up at once; and it sleeps with ``time.sleep``, which tests cannot
replace. ``_GuardedHTTPClient`` subclasses gspread's plain ``HTTPClient`` instead and
adds quota, bounded jittered backoff keyed on the HTTP status, and an overridable API
base URL (a Private Service Connect endpoint in production, the local fake in tests).

``producers.gsheet.app`` builds this source; tests point it at
``tests/support/fake_sheets.py``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any, cast

import gspread
import requests
from google.auth.credentials import Credentials
from google.auth.exceptions import RefreshError, TransportError
from gspread.exceptions import APIError, SpreadsheetNotFound
from gspread.http_client import HTTPClient
from gspread.urls import SPREADSHEETS_API_V4_BASE_URL
from gspread.utils import absolute_range_name

from daas.backoff import Backoff
from producers.gsheet.errors import SheetAccessError, SheetError, SheetUnavailable
from producers.gsheet.quota import RateLimiter
from producers.gsheet.sources.base import TabValues

__all__ = ["SHEETS_API_BASE_URL", "ApiUsage", "GoogleSheetSource", "sheets_backoff"]

_log = logging.getLogger(__name__)

SHEETS_API_BASE_URL = "https://sheets.googleapis.com"
_RETRYABLE_4XX = frozenset({HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_MANY_REQUESTS})


def sheets_backoff(*, initial: float = 1.0, factor: float = 2.0, maximum: float = 64.0, max_retries: int = 8,
                   rng: random.Random | None = None) -> Backoff:
    """The Sheets API retry policy: "equal jitter" (each delay half fixed, half random, so
    pollers throttled together do not retry together), at most ``max_retries`` retries."""
    return Backoff(initial=initial, factor=factor, maximum=maximum, jitter=0.5, max_retries=max_retries,
                   **({"rng": rng} if rng is not None else {}))


@dataclass
class ApiUsage:
    """What the source has cost so far in API requests and backoff (for logs, metrics and tests)."""

    attempts: int = 0  # HTTP requests sent, retries included
    retries: int = 0
    backoff_seconds: float = 0.0
    last_delays: tuple[float, ...] = ()  # the delays of the most recent retried call


def _retry_after(response: requests.Response | None) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP-date; the backoff delay applies


class _GuardedHTTPClient(HTTPClient):
    """gspread's HTTP client with the read quota, retries and a configurable base URL."""

    def __init__(self, auth: Credentials, session: requests.Session | None = None, *,
                 api_base_url: str, limiter: RateLimiter, backoff: Backoff,
                 sleep: Callable[[float], None], usage: ApiUsage) -> None:
        super().__init__(auth, session)
        self._api_prefix = api_base_url.rstrip("/") + SPREADSHEETS_API_V4_BASE_URL.removeprefix(SHEETS_API_BASE_URL)
        self._limiter = limiter
        self._backoff = backoff
        self._sleep = sleep
        self._usage = usage

    def request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> requests.Response:
        if endpoint.startswith(SPREADSHEETS_API_V4_BASE_URL):
            endpoint = self._api_prefix + endpoint.removeprefix(SPREADSHEETS_API_V4_BASE_URL)
        delays: list[float] = []
        retry = 0
        while True:
            self._limiter.acquire()
            self._usage.attempts += 1
            try:
                response = super().request(method, endpoint, *args, **kwargs)
                if delays:
                    self._usage.last_delays = tuple(delays)
                return response
            except APIError as exc:
                status = exc.response.status_code
                if status < HTTPStatus.INTERNAL_SERVER_ERROR and status not in _RETRYABLE_4XX:
                    raise
                cause: Exception = exc
                what = f"HTTP {status}"
                retry_after = _retry_after(exc.response)
            except (requests.ConnectionError, requests.Timeout, TransportError) as exc:
                cause, what, retry_after = exc, type(exc).__name__, None
            delay = self._backoff.delay(retry, retry_after)
            if delay is None:
                self._usage.last_delays = tuple(delays)
                raise SheetUnavailable(
                    f"Sheets API {method.upper()} {endpoint} still failing after {retry} retries "
                    f"(last: {what}); the poll is retried at the next interval") from cause
            _log.warning("Sheets API %s; retry %d/%d in %.2fs", what, retry + 1, self._backoff.max_retries, delay)
            self._usage.retries += 1
            self._usage.backoff_seconds += delay
            delays.append(delay)
            self._sleep(delay)
            retry += 1


class GoogleSheetSource:
    """One Google spreadsheet; ``read_tabs`` returns every polled tab's used range.

    ``tabs`` limits the poll to those worksheet titles (default: every visible grid
    tab, discovered each poll so a new tab is picked up). No I/O happens before the
    first ``read_tabs``.
    """

    def __init__(self, spreadsheet_id: str, *, credentials: Credentials, tabs: Sequence[str] = (),
                 api_base_url: str = SHEETS_API_BASE_URL, limiter: RateLimiter | None = None,
                 backoff: Backoff | None = None, timeout: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not spreadsheet_id.strip():
            raise SheetAccessError("the spreadsheet id is empty; set DAAS_GSHEET_ID to the id in the sheet's URL")
        self._id = spreadsheet_id
        self._credentials = credentials
        self.tabs = tuple(tabs)
        self.usage = ApiUsage()
        self._http_factory = partial(
            _GuardedHTTPClient, api_base_url=api_base_url, limiter=limiter or RateLimiter(),
            backoff=backoff or sheets_backoff(), sleep=sleep, usage=self.usage)
        self._timeout = timeout
        self._spreadsheet: gspread.Spreadsheet | None = None

    @property
    def sheet_id(self) -> str:
        return self._id

    def _who(self) -> str:
        return getattr(self._credentials, "service_account_email", None) or "the service account"

    def _open(self) -> gspread.Spreadsheet:
        if self._spreadsheet is None:
            client = gspread.Client(self._credentials, http_client=cast("type[HTTPClient]", self._http_factory))
            client.set_timeout((10.0, self._timeout))
            self._spreadsheet = client.open_by_key(self._id)
        return self._spreadsheet

    def _visible_tabs(self, spreadsheet: gspread.Spreadsheet) -> list[str]:
        metadata = spreadsheet.fetch_sheet_metadata(
            params={"includeGridData": "false", "fields": "sheets.properties(title,sheetType,hidden)"})
        return [s["properties"]["title"] for s in metadata.get("sheets", [])
                if not s["properties"].get("hidden") and s["properties"].get("sheetType", "GRID") == "GRID"]

    def read_tabs(self) -> TabValues:
        """One batched read of every polled tab; cells as formatted text."""
        titles = list(self.tabs)
        try:
            spreadsheet = self._open()
            titles = titles or self._visible_tabs(spreadsheet)
            if not titles:
                return {}
            response = spreadsheet.values_batch_get(
                [absolute_range_name(title) for title in titles],
                params={"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"})
        except SpreadsheetNotFound as exc:
            raise SheetAccessError(
                f"spreadsheet {self._id} not found: check DAAS_GSHEET_ID and share the sheet with "
                f"{self._who()}") from exc
        except PermissionError as exc:  # gspread's answer to 403 on open_by_key
            raise SheetAccessError(f"{self._who()} may not read spreadsheet {self._id}: share it (Viewer)") from exc
        except APIError as exc:
            raise SheetAccessError(
                f"Sheets API refused reading tabs {titles or '(listing tabs)'} of {self._id}: "
                f"HTTP {exc.response.status_code}: {str(exc.error.get('message', ''))[:200]}") from exc
        except RefreshError as exc:
            raise SheetAccessError(f"the credentials of {self._who()} were rejected: {exc}") from exc
        ranges = response.get("valueRanges", [])
        if len(ranges) != len(titles):
            raise SheetError(f"asked for {len(titles)} tabs of {self._id}, the API returned {len(ranges)} ranges")
        _log.debug("read %d tabs of %s; %d API requests, %d retries, %.1fs backoff so far", len(titles), self._id,
                   self.usage.attempts, self.usage.retries, self.usage.backoff_seconds)
        return {title: [[str(cell) for cell in row] for row in block.get("values", [])]
                for title, block in zip(titles, ranges, strict=True)}
