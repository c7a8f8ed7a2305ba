"""A local stand-in for the Google Sheets API v4 and the OAuth token endpoint.

The only test double of the Google path: gspread, google-auth and the poller's HTTP
client run unchanged against it, over real HTTP on 127.0.0.1 (an ephemeral port), so
nothing leaves the machine. It serves what the poller calls:

- ``POST /token``: the service-account JWT-bearer grant (the key JSON that
  ``service_account_info`` returns has its ``token_uri`` pointing here);
- ``GET /v4/spreadsheets/{id}``: spreadsheet metadata (``open_by_key``, tab listing);
- ``GET /v4/spreadsheets/{id}/values:batchGet`` and ``GET .../values/{range}``: the
  used range of whole tabs, trimmed of trailing blank rows and cells as Google does.

Tests edit tabs between polls (``set_tab``), script failures (``fail_next(429, 429,
503)``: the next API requests get those answers, optionally with ``Retry-After`` or
a non-JSON body as a proxy would send), and inspect every request (``requests``:
arrival time, path, status, bearer token).
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["FakeSheets", "ScriptedFailure", "SeenRequest", "gaps", "new_private_key_pem"]

_API_PREFIX = "/v4/spreadsheets/"
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 408: "DEADLINE_EXCEEDED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "BAD_GATEWAY",
                 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def new_private_key_pem() -> str:
    """A fresh RSA key in PKCS#8 PEM, as a service-account key file holds it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@dataclass(frozen=True)
class ScriptedFailure:
    """One scripted answer to the next API request."""

    status: int
    retry_after: float | None = None
    json_body: bool = True  # False: an HTML body, as a proxy or load balancer sends


@dataclass(frozen=True)
class SeenRequest:
    """One request the fake answered."""

    at: float  # time.monotonic() on arrival
    method: str
    path: str  # URL-decoded
    query: dict[str, list[str]]
    status: int
    bearer: str | None


@dataclass
class _Spreadsheet:
    title: str
    tabs: dict[str, list[list[str]]] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)
    tab_ids: dict[str, int] = field(default_factory=dict)


def _trimmed(values: Sequence[Sequence[str]]) -> list[list[str]]:
    rows = [list(row) for row in values]
    for row in rows:
        while row and row[-1] == "":
            row.pop()
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _column_letters(n: int) -> str:
    letters = ""
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters or "A"


def _tab_of(range_name: str) -> str | None:
    """The tab title of a whole-tab A1 range ("'My tab'" or "Tab"); None for a sub-range."""
    if range_name.startswith("'"):
        title, i = [], 1
        while i < len(range_name):
            if range_name[i] == "'":
                if range_name[i + 1:i + 2] == "'":
                    title.append("'")
                    i += 2
                    continue
                return "".join(title) if i + 1 == len(range_name) else None
            title.append(range_name[i])
            i += 1
        return None
    return None if "!" in range_name else range_name


class FakeSheets:
    """The fake API server; use as a context manager (``with FakeSheets() as fake``)."""

    def __init__(self, *, require_auth: bool = True) -> None:
        self.require_auth = require_auth
        self.requests: list[SeenRequest] = []
        self.token_requests: list[dict[str, Any]] = []  # decoded JWT claims of each grant
        self._sheets: dict[str, _Spreadsheet] = {}
        self._failures: deque[ScriptedFailure] = deque()
        self._tokens: set[str] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------
    def __enter__(self) -> FakeSheets:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-sheets",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        """Where the API is: pass it as the source's ``api_base_url``."""
        assert self._server is not None, "use FakeSheets as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def service_account_info(self, private_key_pem: str,
                             email: str = "poller@daas-test.iam.gserviceaccount.com") -> dict[str, str]:
        """A service-account key JSON whose token endpoint is this fake."""
        return {"type": "service_account", "project_id": "daas-test", "private_key_id": secrets.token_hex(8),
                "private_key": private_key_pem, "client_email": email, "client_id": "1",
                "token_uri": f"{self.base_url}/token"}

    # the sheet -------------------------------------------------------------
    def set_tab(self, spreadsheet_id: str, tab: str, values: Sequence[Sequence[str]], *,
                hidden: bool = False, title: str = "Clinic register") -> None:
        """Create or replace a tab's cells (row 1 first), creating the spreadsheet if needed."""
        with self._lock:
            sheet = self._sheets.setdefault(spreadsheet_id, _Spreadsheet(title))
            sheet.tab_ids.setdefault(tab, len(sheet.tab_ids) * 1000)
            sheet.tabs[tab] = [[str(c) for c in row] for row in values]
            (sheet.hidden.add if hidden else sheet.hidden.discard)(tab)

    def fail_next(self, *statuses: int, retry_after: float | None = None, json_body: bool = True) -> None:
        """Answer the next ``len(statuses)`` API requests with these statuses, in order."""
        with self._lock:
            self._failures.extend(ScriptedFailure(s, retry_after, json_body) for s in statuses)

    def api_requests(self, kind: str | None = None) -> list[SeenRequest]:
        """Requests to the Sheets API (not the token endpoint); ``kind``: "values" or "metadata"."""
        with self._lock:
            seen = [r for r in self.requests if r.path.startswith(_API_PREFIX)]
        if kind == "values":
            return [r for r in seen if "/values" in r.path]
        if kind == "metadata":
            return [r for r in seen if "/values" not in r.path]
        return seen

    # HTTP ------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                return

            def _answer(self, status: int, body: bytes, content_type: str = "application/json",
                        headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _record(self, status: int) -> None:
                url = urlsplit(self.path)
                auth = self.headers.get("Authorization", "")
                with fake._lock:
                    fake.requests.append(SeenRequest(
                        self._arrived, self.command, unquote(url.path), parse_qs(url.query), status,
                        auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None))

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                self._arrived = time.monotonic()
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                if urlsplit(self.path).path != "/token":
                    self._record(404)
                    return self._answer(404, _error(404, "not found"))
                status, body = fake._grant(form)
                self._record(status)
                self._answer(status, json.dumps(body).encode())

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                self._arrived = time.monotonic()
                with fake._lock:
                    failure = fake._failures.popleft() if fake._failures else None
                if failure is not None:
                    self._record(failure.status)
                    headers = {} if failure.retry_after is None else {"Retry-After": f"{failure.retry_after:g}"}
                    if failure.json_body:
                        return self._answer(failure.status, _error(failure.status, "scripted failure"),
                                            headers=headers)
                    return self._answer(failure.status, b"<html><body>upstream error</body></html>",
                                        "text/html", headers)
                status, body = fake._get(urlsplit(self.path), self.headers.get("Authorization", ""))
                self._record(status)
                self._answer(status, json.dumps(body).encode())

        return Handler

    def _grant(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"] or "assertion" not in form:
            return 400, {"error": "invalid_grant", "error_description": "expected a JWT-bearer grant"}
        payload = form["assertion"][0].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        token = "fake-" + secrets.token_hex(8)
        with self._lock:
            self.token_requests.append(claims)
            self._tokens.add(token)
        return 200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}

    def _get(self, url: Any, authorization: str) -> tuple[int, dict[str, Any]]:
        path = unquote(url.path)
        if not path.startswith(_API_PREFIX):
            return 404, json.loads(_error(404, f"no such endpoint {path}"))
        with self._lock:
            authorised = not self.require_auth or authorization.removeprefix("Bearer ") in self._tokens
        if not authorised:
            return 401, json.loads(_error(401, "Request is missing required authentication credential."))
        rest = path.removeprefix(_API_PREFIX)
        spreadsheet_id, _, tail = rest.partition("/")
        with self._lock:
            sheet = self._sheets.get(spreadsheet_id)
            if sheet is None:
                return 404, json.loads(_error(404, "Requested entity was not found."))
            if tail == "":
                return 200, self._metadata(spreadsheet_id, sheet)
            if tail == "values:batchGet":
                ranges = parse_qs(url.query).get("ranges", [])
                blocks = [self._value_range(sheet, r) for r in ranges]
                bad = next((b for b in blocks if isinstance(b, str)), None)
                if bad is not None:
                    return 400, json.loads(_error(400, f"Unable to parse range: {bad}"))
                return 200, {"spreadsheetId": spreadsheet_id, "valueRanges": blocks}
            if tail.startswith("values/"):
                block = self._value_range(sheet, tail.removeprefix("values/"))
                if isinstance(block, str):
                    return 400, json.loads(_error(400, f"Unable to parse range: {block}"))
                return 200, block
        return 404, json.loads(_error(404, f"no such endpoint {path}"))

    @staticmethod
    def _metadata(spreadsheet_id: str, sheet: _Spreadsheet) -> dict[str, Any]:
        sheets = []
        for index, (tab, values) in enumerate(sheet.tabs.items()):
            properties: dict[str, Any] = {
                "sheetId": sheet.tab_ids[tab], "title": tab, "index": index, "sheetType": "GRID",
                "gridProperties": {"rowCount": max(1000, len(values)), "columnCount": 26}}
            if tab in sheet.hidden:
                properties["hidden"] = True
            sheets.append({"properties": properties})
        return {"spreadsheetId": spreadsheet_id,
                "properties": {"title": sheet.title, "locale": "en_GB", "timeZone": "Africa/Nairobi"},
                "sheets": sheets}

    @staticmethod
    def _value_range(sheet: _Spreadsheet, range_name: str) -> dict[str, Any] | str:
        tab = _tab_of(range_name)
        if tab is None or tab not in sheet.tabs:
            return range_name
        values = _trimmed(sheet.tabs[tab])
        quoted = "'" + tab.replace("'", "''") + "'"
        width = max((len(row) for row in values), default=1)
        block: dict[str, Any] = {"range": f"{quoted}!A1:{_column_letters(width)}{max(len(values), 1)}",
                                 "majorDimension": "ROWS"}
        if values:
            block["values"] = values
        return block


def _error(status: int, message: str) -> bytes:
    return json.dumps({"error": {"code": status, "message": message,
                                 "status": _STATUS_NAMES.get(status, HTTPStatus(status).phrase)}}).encode()


def gaps(requests: Sequence[SeenRequest]) -> Iterator[float]:
    """Seconds between consecutive requests, for asserting backoff from the server's side."""
    for before, after in itertools.pairwise(requests):
        yield after.at - before.at
