"""One logging setup for every service: timestamped, levelled, text or JSON, repeats summarised.

Each entry point calls :func:`configure_logging` once at start-up (never at import).
``DAAS_LOG_LEVEL`` picks the level and ``DAAS_LOG_FORMAT=json`` one JSON object per
line (for CloudWatch and other collectors). A message that repeats — a client that
cannot reach its broker logs the same line many times a second — is written the
first time, then at most once per ``window`` seconds with how many were held back.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

__all__ = ["RepeatFilter", "configure_logging"]

_TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_DIGITS = re.compile(r"\d+")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class RepeatFilter(logging.Filter):
    """Lets a repeated warning or error (logger, level, message) through once per ``window`` seconds.

    Numbers do not tell messages apart ("after 0ms" and "after 1ms" are one message):
    a client failing against a dead broker repeats itself with new timings, ports and
    counts every time. Lines below WARNING always pass: progress lines differ only in
    their numbers, and each is news.
    """

    def __init__(self, window: float = 30.0, clock: Any = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self._clock = clock
        self._seen: dict[tuple[str, int, str], list[float | int]] = {}  # key -> [last written, held back]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, _DIGITS.sub("#", record.getMessage()))
        now = self._clock()
        seen = self._seen.get(key)
        if seen is None or now - seen[0] >= self.window:
            held = int(seen[1]) if seen else 0
            self._seen[key] = [now, 0]
            if held:
                record.msg = f"{record.getMessage()} (repeated {held} more times in the last {self.window:.0f}s)"
                record.args = ()
            if len(self._seen) > 10_000:  # bounded: forget the oldest half
                for stale in sorted(self._seen, key=lambda k: self._seen[k][0])[:5_000]:
                    del self._seen[stale]
            return True
        seen[1] = int(seen[1]) + 1
        return False


def configure_logging(level: str = "INFO", fmt: str = "text", *, stream: Any = None) -> None:
    """Route every logger to one handler on stderr (replacing earlier setups)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else logging.Formatter(_TEXT_FORMAT))
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    # Chatty libraries stay at WARNING unless we ask for DEBUG.
    if root.level > logging.DEBUG:
        for name in ("aiokafka", "faust", "mode", "botocore", "urllib3", "s3transfer"):
            logging.getLogger(name).setLevel(logging.WARNING)
