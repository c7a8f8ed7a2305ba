"""`python -m stream_processors.surveillance` (what `daas surveil` runs): one surveillance worker."""

from __future__ import annotations

import sys

from daas.logs import configure_logging
from daas.settings import load_settings
from stream_processors.surveillance.app import serve


def main() -> int:
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
