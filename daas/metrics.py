"""Prometheus metrics and a health endpoint for every long-running service.

With ``DAAS_METRICS_PORT`` set, a service serves, on ``DAAS_METRICS_HOST`` (loopback
unless told otherwise):

* ``GET /metrics`` — the Prometheus text format (``prometheus-client``);
* ``GET /healthz`` — 200 while the service's loop has made a turn within
  ``stale_after`` seconds, 503 otherwise (a loop stuck in a call, or a thread that
  died), with a small JSON body saying which.

Each stage declares its own metrics on the :class:`Telemetry` it is given (one
registry per process) and calls :meth:`Telemetry.beat` once per turn of its loop.
``daas healthcheck`` asks ``/healthz`` — the container health check.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from daas.errors import ConfigurationError

__all__ = ["Telemetry", "check_health", "start_telemetry"]

# Seconds, for batch durations and produce-to-commit latencies.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Telemetry:
    """One service's metrics registry, its heartbeat, and (when asked) their HTTP server."""

    def __init__(self, service: str, *, stale_after: float = 120.0) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.stale_after = stale_after
        self._last_beat = time.monotonic()
        self._server: ThreadingHTTPServer | None = None
        self._up = Gauge("daas_up", "1 while the service runs", ["service"], registry=self.registry)
        self._up.labels(service).set(1)

    def counter(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
        return Counter(name, doc, labels, registry=self.registry)

    def gauge(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, doc, labels, registry=self.registry)

    def histogram(self, name: str, doc: str, labels: tuple[str, ...] = (),
                  buckets: tuple[float, ...] = LATENCY_BUCKETS) -> Histogram:
        return Histogram(name, doc, labels, buckets=buckets, registry=self.registry)

    def beat(self) -> None:
        """The service's loop made a turn (called once per turn)."""
        self._last_beat = time.monotonic()

    def health(self) -> tuple[bool, dict[str, Any]]:
        quiet = time.monotonic() - self._last_beat
        healthy = quiet < self.stale_after
        return healthy, {"service": self.service, "status": "ok" if healthy else "stalled",
                         "seconds_since_last_turn": round(quiet, 1), "stale_after": self.stale_after}

    def serve(self, host: str, port: int) -> None:
        """Serve /metrics and /healthz from a daemon thread until :meth:`close`."""
        telemetry = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                if self.path == "/metrics":
                    body, status, kind = generate_latest(telemetry.registry), 200, CONTENT_TYPE_LATEST
                elif self.path == "/healthz":
                    healthy, detail = telemetry.health()
                    body, status, kind = json.dumps(detail).encode(), 200 if healthy else 503, "application/json"
                else:
                    body, status, kind = b"not found; try /metrics or /healthz\n", 404, "text/plain"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - scrapes are not news
                return

        try:
            self._server = ThreadingHTTPServer((host, port), _Handler)
        except OSError as exc:
            raise ConfigurationError(f"cannot serve metrics on {host}:{port} ({exc}); choose another "
                                     "DAAS_METRICS_PORT, or unset it") from exc
        threading.Thread(target=self._server.serve_forever, name=f"{self.service}-metrics", daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def check_health(host: str, port: int, timeout: float = 3.0) -> tuple[bool, str]:
    """Ask a service's /healthz: (healthy, what it or the connection said)."""
    import urllib.error
    import urllib.request

    url = f"http://{host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own loopback endpoint
            return response.status == 200, response.read().decode()
    except urllib.error.HTTPError as exc:
        return False, exc.read().decode(errors="replace")
    except OSError as exc:
        return False, f"{url}: {exc}"


def start_telemetry(service: str, port: int | None, host: str = "127.0.0.1") -> Telemetry:
    """A service's telemetry, served on ``host:port`` when a port is given (``DAAS_METRICS_PORT``)."""
    telemetry = Telemetry(service)
    if port:
        telemetry.serve(host, port)
    return telemetry
