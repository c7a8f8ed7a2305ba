"""The `daas` command's root: the Typer app, its consoles and how every command ends.

Exit codes, the same for every command: 0 done; 1 done, and what it found is not
well (a stack or service unhealthy, counts that do not reconcile, dead letters
that could not be re-driven); 2 the command could not do its job (bad usage, bad
settings, an unreachable service — the message names the setting or the fix).
Each command reads the settings once, at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any

import typer
from rich.console import Console

from daas.errors import DaasError
from daas.logs import configure_logging
from daas.settings import Settings, load_settings

__all__ = ["WHEN", "app", "console", "friendly", "out", "service_settings", "to_ms"]

app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                  help="daas health pipeline: the local stack, every stage, and the tools to run them.")
console = Console(stderr=True)  # progress and messages
out = Console()  # results
# Accepted spellings of a time on the command line (UTC unless a zone is given).
WHEN = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]


def friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """A project error becomes one line on stderr and exit code 2, not a traceback."""
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DaasError as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from exc
    return wrapper


def service_settings() -> Settings:
    """The settings of a long-running service, with its logging set up from them."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    return settings


def to_ms(when: datetime | None) -> int | None:
    if when is None:
        return None
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1000)
