"""A small Airbyte API server on 127.0.0.1 (stdlib), the double for Airbyte in the DAG tests.

It implements exactly what the Airbyte provider 5.2.3 calls through the airbyte-api SDK
1.0.1 (``AirbyteHook``): ``POST /v1/applications/token`` (OAuth client credentials),
``POST /v1/jobs`` (``submit_sync_connection``), ``GET /v1/jobs/{id}`` (the operator's
wait, ``AirbyteJobSensor`` and ``AirbyteSyncTrigger``), ``DELETE /v1/jobs/{id}``
(``cancel_job``) and ``GET /v1/health``. A job's status walks through ``statuses``,
one step per GET, then stays at the last one; ``rows_synced`` is the job's ``rowsSynced``
(left out when None, as Airbyte leaves it out of a job that has not reported it).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

CLIENT_ID, CLIENT_SECRET, TOKEN = "daas-airflow", "not-a-real-secret", "token-7f3a"
JOB_ID = 4711


class AirbyteApi:
    def __init__(self, statuses: list[str], *, rows_synced: int | None = None) -> None:
        self.statuses = list(statuses)
        self.rows_synced = rows_synced
        self.requests: list[dict[str, Any]] = []
        self.connection_id: str | None = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self) -> Any:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                kind = self.headers.get("Content-Type", "")
                body = (json.loads(raw) if "json" in kind else {k: v[0] for k, v in parse_qs(raw.decode()).items()}) \
                    if raw else None
                api.requests.append({"method": self.command, "path": self.path,
                                     "authorization": self.headers.get("Authorization"), "body": body})
                return body

            def _authorized(self) -> bool:
                if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                    return True
                self._reply(401, {"type": "unauthorized", "title": "missing or wrong bearer token"})
                return False

            def do_POST(self) -> None:  # noqa: N802
                body = self._record()
                if self.path == "/v1/applications/token":
                    if body == {"grant_type": "client_credentials", "client_id": CLIENT_ID,
                                "client_secret": CLIENT_SECRET}:
                        self._reply(200, {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 180})
                    else:
                        self._reply(401, {"error": "invalid_client"})
                elif self.path == "/v1/jobs" and self._authorized():
                    api.connection_id = body["connectionId"]
                    self._reply(200, api._job("pending"))
                elif self.path != "/v1/jobs":
                    self._reply(404, {"title": f"no route {self.path}"})

            def do_GET(self) -> None:  # noqa: N802
                self._record()
                if self.path == "/v1/health":
                    self._reply(200, {})
                elif self.path == f"/v1/jobs/{JOB_ID}" and self._authorized():
                    status = api.statuses.pop(0) if len(api.statuses) > 1 else api.statuses[0]
                    self._reply(200, api._job(status))
                elif self.path != f"/v1/jobs/{JOB_ID}":
                    self._reply(404, {"title": f"no job at {self.path}"})

            def do_DELETE(self) -> None:  # noqa: N802
                self._record()
                if self.path == f"/v1/jobs/{JOB_ID}" and self._authorized():
                    api.statuses = ["cancelled"]
                    self._reply(200, api._job("cancelled"))

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def _job(self, status: str) -> dict[str, Any]:
        job = {"jobId": JOB_ID, "status": status, "jobType": "sync", "connectionId": self.connection_id,
               "startTime": "2026-11-26T10:00:00Z"}
        return job if self.rows_synced is None else {**job, "rowsSynced": self.rows_synced}

    def connection_json(self) -> str:
        """The Airflow connection, as an AIRFLOW_CONN_* value."""
        return json.dumps({"conn_type": "airbyte", "host": self.url, "login": CLIENT_ID, "password": CLIENT_SECRET})

    def calls(self) -> list[tuple[str, str]]:
        return [(r["method"], r["path"]) for r in self.requests]

    @contextmanager
    def running(self) -> Iterator[AirbyteApi]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(timeout=5)
