"""Operating the pipeline: status, effective settings, replays and the dead-letter topic."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import typer
from rich.live import Live
from rich.table import Table

from console.cli import WHEN, app, console, friendly, out, to_ms
from daas.settings import load_settings


@app.command("status")
@friendly
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
           watch: float = typer.Option(None, help="Refresh every WATCH seconds until Ctrl-C."),
           s3_group: str = typer.Option("daas-s3-sink", help="The S3 sink's consumer group."),
           postgres_group: str = typer.Option("daas-postgres-sink", help="The Postgres sink's consumer group.")
           ) -> None:
    """Lag per consumer group and partition, records/s per stage, topic sizes, dead letters by
    reason, and the last warehouse load and replication with row counts and age."""
    from console.status import collect_status, render_status, stages

    settings = load_settings()
    groups = stages(settings, s3_group=s3_group, postgres_group=postgres_group)
    current = collect_status(settings, groups=groups)
    if as_json:
        typer.echo(json.dumps(current.as_dict(), default=str))
        return
    if watch is None:
        out.print(render_status(current))
        return
    with Live(render_status(current), console=out, refresh_per_second=2) as live:
        try:
            while True:
                time.sleep(watch)
                current = collect_status(settings, groups=groups, previous=current)
                live.update(render_status(current))
        except KeyboardInterrupt:
            return


@app.command("config")
@friendly
def config(as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """The effective settings (environment, the stack's connection file, defaults), secrets masked."""
    from daas.settings import effective_settings

    values = effective_settings(load_settings())
    if as_json:
        typer.echo(json.dumps(values, default=str))
        return
    table = Table(title="effective settings")
    table.add_column("variable")
    table.add_column("value", overflow="fold")
    for name, value in values.items():
        table.add_row(name, "" if value is None else str(value))
    out.print(table)


@app.command("replay")
@friendly
def replay(group: str = typer.Option(..., help="Consumer group to rewind; it must be stopped."),
           topic: str = typer.Option(..., help="Topic name, or lake / ops for the clean topics."),
           to_beginning: bool = typer.Option(False, "--to-beginning", help="The earliest offset Kafka still has."),
           to_offset: int = typer.Option(None, help="This offset in every partition (clamped to what exists)."),
           to_time: datetime = typer.Option(None, formats=WHEN,
                                            help="The first record at or after this time (UTC unless a zone is "
                                                 "given), e.g. 2026-11-20T06:00:00+01:00."),
           dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and change nothing.")) -> None:
    """Rewind a stopped consumer group on one topic, for all partitions (every stage is
    idempotent: a replay repairs without duplicating)."""
    from daas.replay import Target, apply_replay, plan_replay, replay_table

    if sum([to_beginning, to_offset is not None, to_time is not None]) != 1:
        raise typer.BadParameter("give exactly one of --to-beginning, --to-offset, --to-time")
    settings = load_settings()
    topic = {"lake": settings.topics.clean_lake, "ops": settings.topics.clean_ops}.get(topic, topic)
    if to_beginning:
        target = Target.beginning()
    elif to_offset is not None:
        target = Target.at_offset(to_offset)
    else:
        target = Target.at_time(to_time if to_time.tzinfo else to_time.replace(tzinfo=UTC))
    plan = plan_replay(settings, group_id=group, topic=topic, target=target)
    out.print(replay_table(plan))
    if dry_run:
        out.print("dry run: nothing changed")
        return
    apply_replay(settings, plan)
    out.print(f"moved the offsets of {group} on {topic}; start the consumers again")


dlq_app = typer.Typer(no_args_is_help=True, help="The dead-letter topic: list by reason and time, re-drive.")
app.add_typer(dlq_app, name="dlq")
_REASON = typer.Option([], "--reason", help="Only these reason codes (repeatable), e.g. unknown_schema.")
_STAGE = typer.Option([], "--stage", help="Only these stages (repeatable): processor, s3-sink, postgres-sink.")
_SOURCE = typer.Option([], "--source-topic", help="Only dead letters from these topics (repeatable).")
_SINCE = typer.Option(None, formats=WHEN, help="Dead-lettered at or after (UTC unless a zone is given).")
_UNTIL = typer.Option(None, formats=WHEN, help="Dead-lettered before (UTC unless a zone is given).")


def _dead_letters(reason: list[str], stage: list[str], source_topic: list[str], since: datetime | None,
                  until: datetime | None) -> list[Any]:
    from daas.dlq import read_dead_letters, select

    entries = read_dead_letters(load_settings(), since_ms=to_ms(since), until_ms=to_ms(until))
    return select(entries, reasons=reason, stages=stage, source_topics=source_topic)


@dlq_app.command("list")
@friendly
def dlq_list(reason: list[str] = _REASON, stage: list[str] = _STAGE, source_topic: list[str] = _SOURCE,
             since: datetime = _SINCE, until: datetime = _UNTIL,
             limit: int = typer.Option(20, help="Dead letters to show one by one (the summary counts all)."),
             as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Dead letters by reason, stage and source, and the latest ones with their first reason."""
    from daas.dlq import summarise

    entries = _dead_letters(reason, stage, source_topic, since, until)
    counts = summarise(entries)
    if as_json:
        typer.echo(json.dumps({"total": len(entries), "by_reason": [
            {"reason": r, "stage": st, "source_topic": t, "count": n} for (r, st, t), n in counts.most_common()],
            "latest": [{"partition": e.partition, "offset": e.offset, "failed_at_ms": e.failed_at_ms, "reason": e.reason,
                        "stage": e.stage, "source": f"{e.source_topic}[{e.source_partition}]@{e.source_offset}",
                        "message": e.message} for e in entries[-limit:]]}))
        return
    table = Table(title=f"dead letters: {len(entries)}")
    for col in ("reason", "stage", "source topic", "count"):
        table.add_column(col, justify="right" if col == "count" else "left")
    for (r, st, t), n in counts.most_common():
        table.add_row(r, st, t, str(n))
    out.print(table)
    latest = Table(title=f"latest {min(limit, len(entries))}")
    for col in ("failed at (UTC)", "reason", "source", "why"):
        latest.add_column(col, overflow="fold")
    for e in entries[-limit:]:
        when = datetime.fromtimestamp(e.failed_at_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        latest.add_row(when, e.reason, f"{e.source_topic}[{e.source_partition}]@{e.source_offset}", e.message[:160])
    out.print(latest)


@dlq_app.command("redrive")
@friendly
def dlq_redrive(reason: list[str] = _REASON, stage: list[str] = _STAGE, source_topic: list[str] = _SOURCE,
                since: datetime = _SINCE, until: datetime = _UNTIL,
                dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be sent; send nothing.")) -> None:
    """Send the selected dead letters back to the topics they came from, once their cause is
    fixed (downstream is idempotent: a record re-driven twice lands once)."""
    from daas.dlq import redrive, summarise

    if not (reason or stage or source_topic or since or until):
        raise typer.BadParameter("select what to re-drive: --reason, --stage, --source-topic, --since or --until")
    entries = _dead_letters(reason, stage, source_topic, since, until)
    for (r, st, t), n in summarise(entries).most_common():
        out.print(f"{n:>8}  {r} ({st}) -> {t}")
    if dry_run or not entries:
        out.print("dry run: nothing sent" if dry_run else "nothing matches")
        return
    result = redrive(load_settings(), entries, progress=lambda n: console.print(f"  {n} sent"))
    out.print(f"re-drove {result.sent} dead letters ({result.from_source} re-read from their source)")
    if result.missing:
        console.print(f"[bold red]{len(result.missing)} truncated dead letters are gone from their source "
                      "topic (retention); their prefix, size and digest stay on the dead-letter topic[/]")
        raise typer.Exit(1)
