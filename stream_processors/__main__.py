"""`python -m stream_processors` (what `daas process` runs): one processor worker; more share the group."""

from __future__ import annotations

import sys

from daas.logs import configure_logging
from daas.settings import load_settings
from stream_processors.worker import serve


def main() -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    stats = serve(settings)
    print(f"processor: {stats.consumed} consumed, {dict(stats.counts)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
