"""`daas demo`: the whole pipeline streaming on the local stack (the README's first command)."""

from __future__ import annotations

import typer

from console.cli import app, console, friendly, out


@app.command("demo")
@friendly
def demo(records: int = typer.Option(60_000, help="SimuHealth encounters in the backfill."),
         weeks: int = typer.Option(14, help="Weeks of backfill, up to today."),
         rate: float = typer.Option(6_000, help="Records per second the producer streams at."),
         seed: int = typer.Option(42, help="Generator seed: the same seed, the same stream (and no duplicates "
                                           "when run again)."),
         reset: bool = typer.Option(False, "--reset", help="Empty the local pipeline first (topics, lake, tables).")
         ) -> None:
    """Run every stage at once as the services they are, streaming a backfill with an outbreak;
    watch it live; end with the reconciliation, latencies, alerts and the surveillance report."""
    from console.demo import DemoOptions, render_result, run_demo

    result = run_demo(DemoOptions(records=records, weeks=weeks, rate=rate, seed=seed, reset=reset), console=console)
    out.print(render_result(result))
    if not result.reconciled:
        console.print("[bold red]counts do not reconcile[/]")
        raise typer.Exit(1)
