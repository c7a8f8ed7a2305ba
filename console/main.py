"""The `daas` command: the local stack, every pipeline stage, the demo.

Each command reads the settings once, at start-up, and turns project errors into a
one-line message and a non-zero exit code instead of a traceback.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from collections.abc import Callable
from functools import wraps
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from daas.errors import DaasError
from daas.settings import load_settings

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, add_completion=False, help="daas health pipeline")
stack_app = typer.Typer(no_args_is_help=True, help="Local stack: Kafka (KRaft), S3Proxy, PostgreSQL.")
app.add_typer(stack_app, name="stack")
console = Console(stderr=True)
out = Console()


def _friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DaasError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from exc
    return wrapper


def _stack():  # noqa: ANN202
    from daas.stack import LocalStack

    return LocalStack(load_settings())


@stack_app.command("up")
@_friendly
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
@_friendly
def stack_down() -> None:
    """Stop the servers this stack started (and nothing else)."""
    stopped = _stack().down()
    out.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@stack_app.command("status")
@_friendly
def stack_status() -> None:
    """Health of each server: a real request, not just an open port."""
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
@_friendly
def stack_logs(service: str = typer.Argument(..., help="kafka, s3proxy or postgres"),
               lines: int = typer.Option(50, "-n", help="How many lines from the end.")) -> None:
    """Print the end of a server's log."""
    out.print(_stack().logs(service, lines), markup=False, highlight=False)


topics_app = typer.Typer(no_args_is_help=True, help="The pipeline's Kafka topics.")
app.add_typer(topics_app, name="topics")


@topics_app.command("create")
@_friendly
def topics_create() -> None:
    """Create every pipeline topic that does not exist yet, with its retention (idempotent)."""
    from daas.kafka import create_admin, ensure_topics, pipeline_topics

    settings = load_settings()
    specs = pipeline_topics(settings.topics, settings.kafka_partitions)
    created = ensure_topics(create_admin(settings), specs, replication_factor=settings.kafka_replication_factor)
    out.print(f"created {len(created)} of {len(specs)} topics: {', '.join(created) or 'all existed'}")


@app.command("healthcheck")
@_friendly
def healthcheck(port: int = typer.Option(None, help="The service's metrics port (default DAAS_METRICS_PORT).")) -> None:
    """Exit 0 if the service on this host answers /healthz as healthy (the container health check)."""
    from daas.metrics import check_health

    settings = load_settings()
    port = port or settings.metrics_port
    if port is None:
        raise typer.BadParameter("no port: set DAAS_METRICS_PORT (the service's metrics port) or pass --port")
    host = "127.0.0.1" if settings.metrics_host in ("0.0.0.0", "") else settings.metrics_host  # noqa: S104
    healthy, detail = check_health(host, port)
    typer.echo(detail)
    if not healthy:
        raise typer.Exit(1)


@app.command("process")
@_friendly
def process() -> None:
    """Run one processor worker: validate, de-identify and route the raw topics, per batch
    (librdkafka). More workers share the consumer group DAAS_PROCESSOR_APP_ID; SIGTERM
    finishes the batch, commits and leaves the group."""
    from daas.logs import configure_logging
    from stream_processors.worker import serve

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    stats = serve(settings)
    out.print(f"processor: {stats.consumed} consumed in {stats.batches} batches, {dict(stats.counts)}")


@app.command("surveil")
@_friendly
def surveil() -> None:
    """Run one surveillance worker (Faust): weekly counts, incidence, outbreak alerts and,
    with DAAS_SURVEILLANCE_WEB_PORT, the web view."""
    from daas.logs import configure_logging
    from stream_processors.surveillance.app import serve

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    serve(settings)


@app.command("sink")
@_friendly
def sink(kind: str = typer.Argument(..., help="s3 or postgres"),
         group: str = typer.Option(None, help="Consumer group (default daas-<kind>-sink)."),
         stop_when_idle: float = typer.Option(None, help="Exit after this many idle seconds."),
         max_records: int = typer.Option(None, help="Records per write (the S3 sink: per file)."),
         idle_seconds: float = typer.Option(None, help="Write a partition that got nothing for this long."),
         budget_bytes: int = typer.Option(None, help="Bytes all partitions together may buffer.")) -> None:
    """Run a sink in its consumer group (more instances share the partitions); SIGTERM
    writes what is buffered and commits before exiting."""
    import signal

    from daas.logs import configure_logging
    from sinks.service import SinkOptions, run_sink

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    options = SinkOptions(group_id=group, max_records=max_records, idle_seconds=idle_seconds,
                          budget_bytes=budget_bytes)
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    stats = run_sink(settings, kind, options, should_stop=lambda: stopping, stop_when_idle=stop_when_idle)
    out.print(f"{kind} sink: {stats.written} written, {stats.dead_lettered} dead-lettered in {stats.batches} writes")


@app.command("replay")
@_friendly
def replay(group: str = typer.Option(..., help="Consumer group to rewind; it must be stopped."),
           topic: str = typer.Option(..., help="Topic name, or lake / ops for the clean topics."),
           to_beginning: bool = typer.Option(False, "--to-beginning", help="The earliest offset Kafka still has."),
           to_offset: int = typer.Option(None, help="This offset in every partition (clamped to what exists)."),
           to_time: datetime = typer.Option(None, formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S",
                                                            "%Y-%m-%d"],
                                            help="The first record at or after this time (UTC unless a zone is "
                                                 "given), e.g. 2026-11-20T06:00:00+01:00."),
           dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and change nothing.")) -> None:
    """Rewind a stopped consumer group on one topic, for all partitions (sinks are
    idempotent: a replay repairs without duplicating)."""
    from datetime import UTC

    from daas.replay import Target, apply_replay, plan_replay, replay_table

    chosen = [to_beginning, to_offset is not None, to_time is not None]
    if sum(chosen) != 1:
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
_WHEN = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]


def _ms(when: datetime | None) -> int | None:
    from datetime import UTC

    if when is None:
        return None
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1000)


def _dead_letters(reason: list[str], stage: list[str], source_topic: list[str], since: datetime | None,
                  until: datetime | None) -> list[Any]:
    from daas.dlq import read_dead_letters, select

    entries = read_dead_letters(load_settings(), since_ms=_ms(since), until_ms=_ms(until))
    return select(entries, reasons=reason, stages=stage, source_topics=source_topic)


_REASON = typer.Option([], "--reason", help="Only these reason codes (repeatable), e.g. unknown_schema.")
_STAGE = typer.Option([], "--stage", help="Only these stages (repeatable): processor, s3-sink, postgres-sink.")
_SOURCE = typer.Option([], "--source-topic", help="Only dead letters from these topics (repeatable).")
_SINCE = typer.Option(None, formats=_WHEN, help="Dead-lettered at or after (UTC unless a zone is given).")
_UNTIL = typer.Option(None, formats=_WHEN, help="Dead-lettered before (UTC unless a zone is given).")


@dlq_app.command("list")
@_friendly
def dlq_list(reason: list[str] = _REASON, stage: list[str] = _STAGE, source_topic: list[str] = _SOURCE,
             since: datetime = _SINCE, until: datetime = _UNTIL,
             limit: int = typer.Option(20, help="Dead letters to show one by one (the summary counts all)."),
             as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """Dead letters by reason, stage and source, and the latest ones with their first reason."""
    import json
    from datetime import UTC

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
@_friendly
def dlq_redrive(reason: list[str] = _REASON, stage: list[str] = _STAGE, source_topic: list[str] = _SOURCE,
                since: datetime = _SINCE, until: datetime = _UNTIL,
                dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be sent; send nothing.")) -> None:
    """Send the selected dead letters back to the topics they came from, once their cause is fixed
    (downstream is idempotent: a record re-driven twice lands once)."""
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


def _poll_gsheet(*, once: bool) -> None:
    """Run the sheet poller until SIGINT/SIGTERM, or for one poll with --once."""
    import signal
    import threading

    from pydantic import SecretStr

    from daas.logs import configure_logging
    from daas.metrics import start_telemetry
    from producers.gsheet import GSheetConfig, build_poller

    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    config = GSheetConfig(
        row_key_secret=SecretStr(settings.require("patient_key_secret")),
        sheet_id=settings.gsheet_id, local_path=settings.gsheet_local_path, tabs=tuple(settings.gsheet_tabs),
        credentials_file=settings.gsheet_credentials_file, credentials_json=settings.gsheet_credentials_json,
        poll_seconds=settings.gsheet_poll_seconds, reads_per_minute=settings.gsheet_reads_per_minute,
        max_retries=settings.gsheet_max_retries, checkpoint_topic=settings.topics.gsheet_checkpoints,
        api_base_url=settings.gsheet_api_base_url)
    poller = build_poller(settings, config)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        if once:
            r = poller.poll_once()
            out.print(f"gsheet: {r.new} new, {r.changed} changed, {r.unchanged} unchanged rows in {r.tabs} tabs")
        else:
            telemetry = start_telemetry("gsheet-poller", settings.metrics_port, settings.metrics_host)
            telemetry.stale_after = max(telemetry.stale_after, 3 * settings.gsheet_poll_seconds)
            stats = poller.run(should_stop=stop.is_set, telemetry=telemetry)
            out.print(f"gsheet: {stats.polls} polls ({stats.failed_polls} skipped), {stats.emitted} rows emitted")
    finally:
        poller.producer.close()


@app.command("produce")
@_friendly
def produce(source: str = typer.Argument(..., help="simuhealth or gsheet"),
            records: int = typer.Option(None, help="simuhealth: how many (default: run until stopped)."),
            rate: float = typer.Option(None, help="simuhealth: records per second (default: as fast as possible)."),
            seed: int = typer.Option(42, help="simuhealth: generator seed."),
            once: bool = typer.Option(False, "--once", help="gsheet: poll once and exit.")) -> None:
    """Produce SimuHealth encounters, or poll the clinic spreadsheet (DAAS_GSHEET_*), into the raw topics."""
    import itertools
    from datetime import UTC, datetime

    from daas.metrics import start_telemetry
    from producers.kafka_producer import RecordProducer
    from producers.simuhealth import SimuHealthGenerator
    from schemas import SIMUHEALTH_ENCOUNTER

    if source == "gsheet":
        _poll_gsheet(once=once)
        return
    if source != "simuhealth":
        raise typer.BadParameter(f"{source!r}: the sources are simuhealth and gsheet")
    settings = load_settings()
    generator = SimuHealthGenerator(seed)
    producer = RecordProducer(settings, topic=settings.topics.raw_simuhealth,
                              schema_name=SIMUHEALTH_ENCOUNTER, source="simuhealth")
    # Live mode: event time is the wall clock; small bursts keep the rate smooth.
    bursts = (generator.live(datetime.now(tz=UTC), 50) for _ in itertools.count())
    stream = itertools.chain.from_iterable(bursts)
    if records:
        stream = itertools.islice(stream, records)
    import signal

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    def _terminate(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)  # stop like Ctrl-C: flush before exiting
    telemetry = start_telemetry("simuhealth-producer", settings.metrics_port, settings.metrics_host)
    produced = telemetry.counter("daas_producer_records_total", "Records produced to a raw topic", ("source",))
    columns = (TextColumn("simuhealth"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("produce", total=records)

        def counted(items):  # noqa: ANN001, ANN202
            for n, record in enumerate(items, 1):
                telemetry.beat()
                if n % 500 == 0:
                    progress.update(task, completed=n)
                    produced.labels("simuhealth").inc(500)
                yield record["encounter_id"], record

        try:
            producer.produce_many(counted(stream), rate=rate)
        except KeyboardInterrupt:
            console.print("stopping: flushing what was produced")
        finally:
            producer.close()
    out.print(f"produced {producer.sent}, acknowledged {producer.report.delivered}")


@app.command("demo")
@_friendly
def demo(records: int = typer.Option(5000, help="SimuHealth encounters to produce."),
         seed: int = typer.Option(42, help="Generator seed (same seed, same stream).")) -> None:
    """Run the whole pipeline on the local stack and print encounters per region."""
    from console.demo import run_demo
    from daas.stack import LocalStack

    began = time.monotonic()
    console.print("[bold]starting the local stack[/]")
    LocalStack(load_settings()).up(on_progress=lambda msg: console.print(f"  {msg}"))
    settings = load_settings()
    result = run_demo(settings, records=records, seed=seed,
                      progress=lambda msg: console.print(f"[bold]{msg}[/]"))
    table = Table(title="encounters per region", caption="produced: valid records sent; lake: via S3 "
                  "Parquet and the warehouse load; ops: via PostgreSQL and the replicator")
    for col, just in (("country", "left"), ("region", "left"), ("produced", "right"),
                      ("lake", "right"), ("ops", "right"), ("match", "center")):
        table.add_column(col, justify=just)
    regions = sorted(set(result.expected_by_region) | set(result.lake_by_region) | set(result.rds_by_region))
    all_match = True
    for key in regions:
        want, lake, ops = (result.expected_by_region.get(key, 0), result.lake_by_region.get(key, 0),
                           result.rds_by_region.get(key, 0))
        ok = want == lake == ops
        all_match &= ok
        table.add_row(key[0], key[1], str(want), str(lake), str(ops), "[green]yes[/]" if ok else "[red]NO[/]")
    table.add_row("", "[bold]total[/]", str(sum(result.expected_by_region.values())),
                  str(sum(result.lake_by_region.values())), str(sum(result.rds_by_region.values())), "")
    out.print(table)
    out.print(f"produced {result.produced} records ({result.invalid} deliberately invalid): "
              f"{result.clean} clean + {result.dead_lettered} dead-lettered; "
              f"finished in {time.monotonic() - began:.0f}s")
    if not all_match or result.clean + result.dead_lettered != result.produced:
        console.print("[bold red]counts do not reconcile[/]")
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the `daas` console script."""
    app(prog_name="daas")


if __name__ == "__main__":
    sys.exit(main())
