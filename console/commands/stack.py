"""`daas stack`: the local stack (Kafka in KRaft mode, S3Proxy, PostgreSQL) without Docker."""

from __future__ import annotations

import typer
from rich.table import Table

from console.cli import app, console, friendly, out
from daas.settings import load_settings

stack_app = typer.Typer(no_args_is_help=True, help="Local stack: Kafka (KRaft), S3Proxy, PostgreSQL.")
app.add_typer(stack_app, name="stack")


def _stack():  # noqa: ANN202
    from daas.stack import LocalStack

    return LocalStack(load_settings())


@stack_app.command("up")
@friendly
def stack_up(timeout: float = typer.Option(180.0, help="Seconds to wait for each service.")) -> None:
    """Start Kafka, S3Proxy and PostgreSQL (idempotent) and provision topics and bucket."""
    stack = _stack()
    reports = stack.up(timeout=timeout, on_progress=lambda msg: console.print(f"  {msg}"))
    table = Table(title="local stack")
    for col in ("service", "action", "seconds", "endpoint"):
        table.add_column(col)
    for r in reports:
        table.add_row(r.name, "started" if r.started else "already running", f"{r.seconds:.1f}", r.endpoint)
    out.print(table)


@stack_app.command("down")
@friendly
def stack_down() -> None:
    """Stop the servers this stack started (and nothing else)."""
    stopped = _stack().down()
    out.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@stack_app.command("status")
@friendly
def stack_status() -> None:
    """Health of each server: a real request, not just an open port (exit 1 if any is unhealthy)."""
    rows = _stack().status()
    table = Table(title="local stack")
    for col in ("service", "pid", "endpoint", "healthy", "detail"):
        table.add_column(col)
    for s in rows:
        table.add_row(s.name, str(s.pid or "-"), s.endpoint, "yes" if s.healthy else "no", s.detail)
    out.print(table)
    if not all(s.healthy for s in rows):
        raise typer.Exit(1)


@stack_app.command("logs")
@friendly
def stack_logs(service: str = typer.Argument(..., help="kafka, s3proxy or postgres"),
               lines: int = typer.Option(50, "-n", help="How many lines from the end.")) -> None:
    """Print the end of a server's log."""
    out.print(_stack().logs(service, lines), markup=False, highlight=False)
