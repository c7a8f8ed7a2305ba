"""The `daas` console script: the root app with every command area registered."""

from __future__ import annotations

import sys

from console.cli import app
from console.commands import demo, operate, report, stack, stages  # noqa: F401 - importing registers the commands

__all__ = ["main"]


def main() -> None:
    """Entry point of the `daas` console script."""
    app(prog_name="daas")


if __name__ == "__main__":
    sys.exit(main())
