"""The pipeline's stages as commands: topics, producers, processor, surveillance, sinks, warehouse.

Every long-running stage runs until SIGTERM or Ctrl-C, finishes what it holds,
commits, and with ``DAAS_METRICS_PORT`` serves /metrics and /healthz
(``daas healthcheck`` asks the latter).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import typer

from console.cli import WHEN, app, console, friendly, out, service_settings
from daas.settings import load_settings

topics_app = typer.Typer(no_args_is_help=True, help="The pipeline's Kafka topics.")
app.add_typer(topics_app, name="topics")
warehouse_app = typer.Typer(no_args_is_help=True, help="The batch side: lake loads, RDS replication, views.")
app.add_typer(warehouse_app, name="warehouse")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


@topics_app.command("create")
@friendly
def topics_create() -> None:
    """Create every pipeline topic that does not exist yet, with its retention (idempotent)."""
    from daas.kafka import create_admin, ensure_topics, pipeline_topics

    settings = load_settings()
    specs = pipeline_topics(settings.topics, settings.kafka_partitions)
    created = ensure_topics(create_admin(settings), specs, replication_factor=settings.kafka_replication_factor)
    out.print(f"created {len(created)} of {len(specs)} topics: {', '.join(created) or 'all existed'}")


@app.command("healthcheck")
@friendly
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


produce_app = typer.Typer(no_args_is_help=True, help="The producers: SimuHealth and the clinic spreadsheet.")
app.add_typer(produce_app, name="produce")


@produce_app.command("simuhealth")
@friendly
def produce_simuhealth(
        records: int = typer.Option(None, help="How many (a backfill needs it; live: default runs until stopped)."),
        rate: float = typer.Option(None, help="Records per second (default: as fast as Kafka takes them)."),
        seed: int = typer.Option(42, help="Generator seed: the same seed gives the same stream."),
        weeks: int = typer.Option(None, help="Backfill the last WEEKS weeks up to today (instead of live traffic)."),
        start: datetime = typer.Option(None, formats=WHEN[-1:], help="Backfill from this day (with --end)."),
        end: datetime = typer.Option(None, formats=WHEN[-1:], help="Backfill up to this day, excluded."),
        countries: str = typer.Option(None, help="Only these countries, e.g. NG,KE (default: all six)."),
        outbreak: list[str] = typer.Option([], help="Inject DISEASE:DISTRICT:WEEK:WEEKS:MULTIPLIER, e.g. "
                                                    "cholera:Ikeja:2026W44:3:3 (repeatable)."),
        faulty: float = typer.Option(0.0, help="Share of records to break on purpose (0-0.5), to see dead "
                                               "letters: unknown ICD-10 code, future date, not Avro.")) -> None:
    """Produce SimuHealth encounters into the raw topic: live traffic, or a backfill window."""
    from daas.metrics import start_telemetry
    from producers.simuhealth import Outbreak
    from producers.simuhealth.feed import FeedOptions, backfill_window, run_feed

    if weeks is not None and (start or end):
        raise typer.BadParameter("give --weeks, or --start and --end, not both")
    if (start is None) != (end is None):
        raise typer.BadParameter("--start and --end go together")
    window = backfill_window(weeks) if weeks is not None else (
        (start.date(), end.date()) if start and end else (None, None))
    settings = service_settings()
    options = FeedOptions(seed=seed, records=records, rate=rate, start=window[0], end=window[1],
                          countries=[c.strip().upper() for c in countries.split(",")] if countries else None,
                          outbreaks=[Outbreak.parse(spec) for spec in outbreak], faulty_share=faulty)
    stop = _stop_on_signals()
    telemetry = start_telemetry("simuhealth-producer", settings.metrics_port, settings.metrics_host)
    began = time.monotonic()
    try:
        stats = run_feed(settings, options, should_stop=stop.is_set, telemetry=telemetry,
                         progress=lambda n: console.print(f"  simuhealth: {n:,} sent", highlight=False)
                         if n % 10_000 == 0 else None)
    finally:
        telemetry.close()
    broken = ", ".join(f"{n} {fault}" for fault, n in sorted(stats.faults.items())) or "none broken"
    out.print(f"simuhealth: {stats.sent:,} records produced and acknowledged in {time.monotonic() - began:.1f}s "
              f"({broken})")


@produce_app.command("gsheet")
@friendly
def produce_gsheet(once: bool = typer.Option(False, "--once", help="Poll once and exit.")) -> None:
    """Poll the clinic spreadsheet (DAAS_GSHEET_ID, or a local CSV/XLSX file or folder in
    DAAS_GSHEET_LOCAL_PATH) and emit each new or changed row once."""
    from pydantic import SecretStr

    from daas.metrics import start_telemetry
    from producers.gsheet import GSheetConfig, build_poller

    settings = service_settings()
    config = GSheetConfig(
        row_key_secret=SecretStr(settings.require("patient_key_secret")),
        sheet_id=settings.gsheet_id, local_path=settings.gsheet_local_path, tabs=tuple(settings.gsheet_tabs),
        credentials_file=settings.gsheet_credentials_file, credentials_json=settings.gsheet_credentials_json,
        poll_seconds=settings.gsheet_poll_seconds, reads_per_minute=settings.gsheet_reads_per_minute,
        max_retries=settings.gsheet_max_retries, checkpoint_topic=settings.topics.gsheet_checkpoints,
        api_base_url=settings.gsheet_api_base_url)
    poller = build_poller(settings, config)
    stop = _stop_on_signals()
    try:
        if once:
            r = poller.poll_once()
            out.print(f"gsheet: {r.new} new, {r.changed} changed, {r.unchanged} unchanged rows in {r.tabs} tabs")
            return
        telemetry = start_telemetry("gsheet-poller", settings.metrics_port, settings.metrics_host)
        telemetry.stale_after = max(telemetry.stale_after, 3 * settings.gsheet_poll_seconds)
        stats = poller.run(should_stop=stop.is_set, telemetry=telemetry)
        out.print(f"gsheet: {stats.polls} polls ({stats.failed_polls} skipped), {stats.emitted} rows emitted")
    finally:
        poller.producer.close()


@app.command("process")
@friendly
def process() -> None:
    """Run one processor worker: validate, de-identify and route the raw topics in batches
    (librdkafka). More workers share the load: each raw topic has its own consumer group,
    <DAAS_PROCESSOR_APP_ID>-simuhealth and -gsheet."""
    from stream_processors.worker import serve

    stats = serve(service_settings())
    out.print(f"processor: {stats.consumed:,} consumed in {stats.batches:,} batches, {dict(stats.counts)}")


@app.command("surveil")
@friendly
def surveil() -> None:
    """Run one surveillance worker (Faust): weekly counts, incidence, outbreak alerts, and
    with DAAS_SURVEILLANCE_WEB_PORT the web view."""
    from stream_processors.surveillance.app import serve

    serve(service_settings())


@app.command("sink")
@friendly
def sink(kind: str = typer.Argument(..., help="s3, postgres, alerts or dead-letters"),
         group: str = typer.Option(None, help="Consumer group (default daas-<kind>-sink)."),
         stop_when_idle: float = typer.Option(None, help="Exit after this many idle seconds."),
         max_records: int = typer.Option(None, help="Records per write (the S3 sink: per file)."),
         idle_seconds: float = typer.Option(None, help="Write a partition that got nothing for this long."),
         budget_bytes: int = typer.Option(None, help="Bytes all partitions together may buffer.")) -> None:
    """Run a sink in its consumer group (more instances share the partitions): s3 writes the
    lake topic as Parquet, postgres the ops topic into RDS, alerts and dead-letters the
    surveillance alerts and dead-letter metadata into RDS."""
    from sinks.service import SinkOptions, run_sink

    stop = _stop_on_signals()
    options = SinkOptions(group_id=group, max_records=max_records, idle_seconds=idle_seconds,
                          budget_bytes=budget_bytes)
    stats = run_sink(service_settings(), kind, options, should_stop=stop.is_set, stop_when_idle=stop_when_idle)
    out.print(f"{kind} sink: {stats.written:,} written, {stats.dead_lettered:,} dead-lettered in "
              f"{stats.batches:,} writes")


def _every(seconds: float | None, job: Callable[[], Any], describe: Callable[[Any], str]) -> None:
    """Run ``job`` once, or every ``seconds`` until SIGTERM/Ctrl-C (a round that finds the
    warehouse busy with another load or publish waits for the next)."""
    from warehouse.errors import LoadInProgress

    stop = _stop_on_signals()
    while True:
        try:
            out.print(describe(job()), highlight=False)
        except LoadInProgress as exc:
            if seconds is None:
                raise
            console.print(f"busy: {exc}; trying again in {seconds:g}s", highlight=False)
        if seconds is None or stop.wait(seconds):
            return


@warehouse_app.command("load")
@friendly
def warehouse_load(every: float = typer.Option(None, help="Run again every EVERY seconds until stopped.")) -> None:
    """Load every lake manifest the S3 sink committed and the warehouse has not (COPY + MERGE,
    each manifest once), then refresh the analytics views — what Airflow's warehouse_copy runs."""
    from warehouse.config import WarehouseConfig
    from warehouse.jobs import copy_lake, publish

    settings, config = service_settings(), WarehouseConfig()

    def job() -> tuple[object, int]:
        report = copy_lake(config, settings)
        return report, publish(config, settings) if report.manifests_loaded else 0

    _every(every, job, lambda r: f"warehouse load: {r[0].manifests_loaded} manifests, {r[0].rows_merged:,} rows "
                                 "merged" + (", views refreshed" if r[1] else ""))


@warehouse_app.command("replicate")
@friendly
def warehouse_replicate(every: float = typer.Option(None, help="Run again every EVERY seconds until stopped.")
                        ) -> None:
    """Copy RDS rows changed since the last run into the warehouse (the local stand-in for
    the Airbyte sync that Airflow triggers on AWS), then refresh the views if rows came."""
    from warehouse.config import WarehouseConfig
    from warehouse.jobs import publish, replicate_rds

    settings, config = service_settings(), WarehouseConfig()

    def job() -> tuple[Any, int]:
        report = replicate_rds(config, settings)
        return report, publish(config, settings) if report.rows_written else 0

    _every(every, job, lambda r: f"replicated: {r[0].rows_read:,} rows read, {r[0].rows_written:,} written"
                                 + (", views refreshed" if r[1] else ""))
