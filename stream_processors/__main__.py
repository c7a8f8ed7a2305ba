"""`python -m stream_processors`: run one processor worker (more instances share the group)."""

from __future__ import annotations

import sys

import faust

from daas.settings import load_settings
from stream_processors.app import create_app


def main() -> None:
    settings = load_settings()
    app = create_app(settings)
    worker = faust.Worker(app, loglevel="WARNING")
    worker.execute_from_commandline()


if __name__ == "__main__":
    sys.exit(main())
