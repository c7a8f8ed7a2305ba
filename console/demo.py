"""The streaming demo: every stage running at once on the local stack, as the services they are.

``run_demo`` (``daas demo``, the README's first command) starts the stack, then each
stage the way a user would — ``daas process``, ``daas surveil``, ``daas sink s3``,
``daas sink postgres``, ``daas produce gsheet`` on a local sheet, ``daas warehouse
load`` and ``replicate`` every few seconds — and streams a seeded SimuHealth backfill
of several weeks across all six countries into them, with an injected outbreak and a
share of deliberately broken records. While it runs, a live view shows records per
second, lag and dead letters per stage; when the warehouse holds everything, it
stops the services and reconciles: produced = clean + dead-lettered, and every
valid record once in the lake and the operational store as the warehouse sees
them. The stream is the same for the same seed, so a second run sends the same
records again and the warehouse still holds each once.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from daas import dead_letter
from daas.child import ChildProcess
from daas.errors import ConfigurationError, DaasError
from daas.kafka import count_records, create_admin, ensure_topics, pipeline_topics
from daas.settings import Settings, load_settings

__all__ = ["DemoOptions", "DemoResult", "render_result", "reset_local_pipeline", "run_demo"]

# Both sources to both routes, so both sinks (and both warehouse paths) see every record.
DEMO_ROUTES = {"simuhealth": ["lake", "ops"], "gsheet": ["lake", "ops"]}
FAULTY_SHARE = 0.02
SHEET_ROWS = 40
_METRICS_BASE = 31600  # /metrics and /healthz of each demo service, from here up (below Linux's ephemeral range)


@dataclass(frozen=True)
class DemoOptions:
    records: int = 60_000
    weeks: int = 14
    rate: float = 6_000
    seed: int = 42
    reset: bool = False


@dataclass
class DemoResult:
    produced: int = 0
    expected_dead: Counter[str] = field(default_factory=Counter)  # the records broken on purpose, by reason
    dead_lettered: Counter[str] = field(default_factory=Counter)  # what this run dead-lettered, by reason
    valid: int = 0  # produced minus the broken ones: each must be in the warehouse, once
    expected_by_region: Counter[tuple[str, str]] = field(default_factory=Counter)
    lake_by_region: Counter[tuple[str, str]] = field(default_factory=Counter)
    ops_by_region: Counter[tuple[str, str]] = field(default_factory=Counter)
    latency_ms: dict[str, float] = field(default_factory=dict)
    new_rows: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    outbreak: str = ""
    seconds: float = 0.0
    report: Path | None = None

    @property
    def reconciled(self) -> bool:
        regions = set(self.expected_by_region) | set(self.lake_by_region) | set(self.ops_by_region)
        same = all(self.expected_by_region[r] == self.lake_by_region[r] == self.ops_by_region[r] for r in regions)
        return same and self.dead_lettered == self.expected_dead


class _Service(ChildProcess):
    """One stage as a child process (``python -m console.main ...``, i.e. ``daas ...``), logging to a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        super().__init__(name, [sys.executable, "-m", "console.main", *args], env, logs / f"{name}.log")

    def check(self) -> None:
        code = self.proc.poll()
        if code not in (None, 0):
            raise DaasError(f"demo service {self.name} exited with {code}; the end of {self.log}:\n{self.log_tail()}")


def reset_local_pipeline(settings: Settings) -> None:
    """Delete the pipeline's topics, lake objects and tables — local stack only."""
    if not settings.local_mode or not settings.kafka_bootstrap_servers.startswith(("127.", "localhost")):
        raise ConfigurationError("refusing to reset a pipeline that is not the local stack "
                                 "(DAAS_LOCAL_MODE is false or Kafka is not on loopback)")
    import shutil

    import psycopg

    from sinks.s3_parquet import s3_client

    admin = create_admin(settings)
    names = [spec.name for spec in pipeline_topics(settings.topics, settings.kafka_partitions)]
    internal = (f"{settings.processor_app_id}-", f"{settings.surveillance_app_id}-")  # state changelogs
    existing = [n for n in admin.list_topics(timeout=10).topics
                if n in names or n.startswith(internal) or n == settings.topics.gsheet_checkpoints]
    for future in admin.delete_topics(existing, operation_timeout=30).values():
        future.result()
    deadline = time.monotonic() + 30
    while any(n in admin.list_topics(timeout=10).topics for n in existing) and time.monotonic() < deadline:
        time.sleep(0.2)
    ensure_topics(admin, pipeline_topics(settings.topics, settings.kafka_partitions))
    s3 = s3_client(settings)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.s3_bucket, Prefix=settings.s3_prefix + "/"):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith("/"):  # S3Proxy lists its folders as keys
                s3.delete_object(Bucket=settings.s3_bucket, Key=obj["Key"])
    with psycopg.connect(settings.require("rds_dsn"), autocommit=True) as conn:
        # The topics start again at offset 0: rows keyed by offset would be taken for repeats.
        conn.execute("drop table if exists public.encounters, public.surveillance_alerts, public.dead_letters")
    with psycopg.connect(settings.require("warehouse_dsn"), autocommit=True) as conn:
        conn.execute("drop schema if exists published, analytics, lake, rds cascade")
    shutil.rmtree(settings.runtime_dir / "faust", ignore_errors=True)


def _feed_options(options: DemoOptions) -> Any:
    from producers.simuhealth import Outbreak
    from producers.simuhealth.feed import FeedOptions, backfill_window

    start, end = backfill_window(options.weeks)
    outbreak_start = (end - timedelta(weeks=3)).isocalendar()
    outbreak = Outbreak("malaria", "Kano Municipal", f"{outbreak_start.year}W{outbreak_start.week:02d}", 3, 3.0)
    return FeedOptions(seed=options.seed, records=options.records, rate=options.rate, start=start, end=end,
                       outbreaks=[outbreak], faulty_share=FAULTY_SHARE)


def _outbreak_arg(outbreak: Any) -> str:
    return f"{outbreak.disease}:{outbreak.district}:{outbreak.start_week}:{outbreak.weeks}:{outbreak.multiplier:g}"


def _write_sheet(folder: Path, seed: int, today: datetime) -> list[dict[str, str]]:
    """The clinics without an EHR: a local sheet (one tab) the poller reads like a Google Sheet."""
    from producers.simuhealth import SimuHealthGenerator
    from stream_processors.deidentify import age_on

    folder.mkdir(parents=True, exist_ok=True)
    generator = SimuHealthGenerator(seed + 1, countries=["KE"], start=today.date() - timedelta(days=10),
                                    end=today.date())
    rows = []
    for n, record in enumerate(generator.generate(SHEET_ROWS)):
        patient, day = record["patient"], record["encounter_time"].date()
        age = patient["age_years"] if patient["birth_date"] is None else age_on(patient["birth_date"], day)
        rows.append({"Record ID": f"KE-VISIT-{n:04d}", "Facility ID": record["facility_id"],
                     "Date of visit": day.isoformat(), "Patient ID": patient["patient_id"], "Sex": patient["sex"],
                     "Age": str(age),
                     "Diagnosis (ICD-10)": record["diagnosis"]["icd10_code"], "Severity": record["severity"],
                     "Outcome": record["outcome"]})
    rows[7]["Diagnosis (ICD-10)"] = "not a code"  # typed by hand: dead-lettered as icd10_unknown
    path = folder / "Visits.csv"
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    temporary.replace(path)  # atomically: a poll never sees half a file
    return rows


def _env(settings: Settings, sheet: Path) -> dict[str, str]:
    return {**os.environ, "DAAS_ROUTES": json.dumps(DEMO_ROUTES), "DAAS_GSHEET_LOCAL_PATH": str(sheet),
            "DAAS_GSHEET_POLL_SECONDS": "2", "DAAS_RUNTIME_DIR": str(settings.runtime_dir), "PYTHONUNBUFFERED": "1"}


def _live_view(status: Any, produced: int, target: int, elapsed: float) -> Group:
    from console.status import render_status

    head = Table.grid(padding=(0, 2))
    head.add_row(f"[bold]daas demo[/] streaming: {produced:,} of {target:,} produced", f"{elapsed:.0f}s")
    return Group(head, render_status(status))


def _in_warehouse(settings: Settings, ids: list[str]) -> tuple[int, int]:
    """How many of ``ids`` the warehouse holds from the lake, and from RDS."""
    import psycopg

    with psycopg.connect(settings.require("warehouse_dsn"), autocommit=True) as wh:
        found = []
        for table in ("lake", "rds"):
            exists = wh.execute("select to_regclass(%s)", [f"{table}.encounters"]).fetchone()[0]
            found.append(wh.execute(f"select count(*) from {table}.encounters where record_id = any(%s::uuid[])",
                                    [ids]).fetchone()[0] if exists else 0)
    return found[0], found[1]


def run_demo(options: DemoOptions, *, console: Console, timeout: float = 600.0) -> DemoResult:
    """Run the demo; return what it found (the caller renders it)."""
    from daas.stack import LocalStack

    began = time.monotonic()
    console.print("[bold]starting the local stack[/]")
    LocalStack(load_settings()).up(on_progress=lambda msg: console.print(f"  {msg}"))
    settings = load_settings().model_copy(update={"routes": DEMO_ROUTES})
    if options.reset:
        console.print("[bold]emptying the local pipeline (topics, lake, tables)[/]")
        reset_local_pipeline(settings)
    run_started = datetime.now(tz=UTC)  # the stack's start (or the reset) made the topics
    home = settings.runtime_dir / "demo"
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    feed = _feed_options(options)
    sheet_rows = _write_sheet(home / "sheet", options.seed, run_started)
    env = _env(settings, home / "sheet")
    plan = [("processor", ["process"]), ("surveillance", ["surveil"]), ("s3-sink", ["sink", "s3"]),
            ("postgres-sink", ["sink", "postgres"]), ("alerts-sink", ["sink", "alerts"]),
            ("dead-letters-sink", ["sink", "dead-letters"]), ("sheet-poller", ["produce", "gsheet"]),
            ("warehouse-load", ["warehouse", "load", "--every", "4"]),
            ("replication", ["warehouse", "replicate", "--every", "4"])]
    services = [_Service(name, args, {**env, "DAAS_METRICS_PORT": str(_METRICS_BASE + i)}, logs)
                for i, (name, args) in enumerate(plan)]
    outbreak = feed.outbreaks[0]
    console.print(f"[bold]streaming {options.records:,} SimuHealth encounters over {options.weeks} weeks at "
                  f"{options.rate:,.0f}/s, with a ×{outbreak.multiplier:g} {outbreak.disease} outbreak in "
                  f"{outbreak.district} from {outbreak.start_week}; {SHEET_ROWS} sheet rows; logs in {logs}[/]")
    expected = _expected(settings, feed, sheet_rows)
    # Counted before the producer starts, so the live view counts this run's records only.
    before = Counts(count_records(settings, settings.topics.raw_simuhealth), count_records(settings, settings.topics.dlq))
    producer = _Service("simuhealth", ["produce", "simuhealth", "--weeks", str(options.weeks), "--records",
                                       str(options.records), "--rate", f"{options.rate:g}", "--seed", str(options.seed),
                                       "--outbreak", _outbreak_arg(outbreak), "--faulty", f"{FAULTY_SHARE:g}"],
                        {**env, "DAAS_METRICS_PORT": str(_METRICS_BASE + len(plan))}, logs)
    try:
        _watch(settings, services, producer, expected, before, options, console, timeout)
    finally:
        for service in [producer, *services]:
            service.stop()
    result = _reconcile(settings, expected, run_started)
    result.outbreak = f"{outbreak.disease} in {outbreak.district} from {outbreak.start_week} (×{outbreak.multiplier:g})"
    result.report = _report(settings, console)
    result.seconds = time.monotonic() - began
    return result


def _report(settings: Settings, console: Console) -> Path:
    """The surveillance report, from the warehouse the demo has just filled."""
    from console.report import default_report_dir, write_report
    from warehouse.config import WarehouseConfig
    from warehouse.jobs import publish, replicate_rds

    console.print()  # the live view leaves the cursor on its last line
    console.print("[bold]writing the surveillance report[/]")
    config = WarehouseConfig()
    replicate_rds(config, settings)  # the last alerts and dead letters the sinks wrote
    publish(config, settings)
    return write_report(settings, default_report_dir(settings))


class Counts(NamedTuple):
    """Records on the raw SimuHealth topic and on the dead-letter topic."""

    raw: int
    dead: int


def _watch(settings: Settings, services: list[_Service], producer: _Service, expected: dict[str, Any],
           before: Counts, options: DemoOptions, console: Console, timeout: float) -> None:
    """The live view, until the producer is done and the warehouse holds every valid record."""
    from console.status import collect_status

    began = time.monotonic()
    status = collect_status(settings, interval=0, dead_letters=False)
    with Live(console=console, refresh_per_second=2, transient=False) as live:
        while True:
            for service in [*services, producer]:
                service.check()
            status = collect_status(settings, previous=status, dead_letters=False)
            sizes = status.topic_sizes
            status.dead_letters = {"this run, all reasons": sizes.get(settings.topics.dlq, 0) - before.dead}
            produced = sizes.get(settings.topics.raw_simuhealth, 0) - before.raw
            live.update(_live_view(status, produced, options.records, time.monotonic() - began))
            drained = all(status.lag_of(stage) == 0 for stage in status.records_per_s)
            if producer.proc.poll() == 0 and drained and \
                    min(_in_warehouse(settings, expected["ids"])) >= len(expected["ids"]):
                return
            if time.monotonic() - began > timeout:
                raise DaasError(f"the demo did not drain within {timeout:.0f}s; see the logs in "
                                f"{producer.log.parent}")
            time.sleep(1.0)


def _expected(settings: Settings, feed: Any, sheet_rows: list[dict[str, str]]) -> dict[str, Any]:
    """What the pipeline must make of this run's input: valid record ids by region, and the counts."""
    from producers.simuhealth.feed import feed_stream
    from reference import load_geography
    from stream_processors.deidentify import record_id, sheet_source_key

    by_region: Counter[tuple[str, str]] = Counter()
    ids: set[str] = set()
    dead: Counter[str] = Counter()
    produced = 0
    for item in feed_stream(feed):
        produced += 1
        if item.fault:
            dead[item.fault] += 1
            continue
        ids.add(record_id("simuhealth", item.record["encounter_id"]))
        by_region[(item.record["country_code"], item.record["region"])] += 1
    geo = load_geography()
    secret = settings.require("patient_key_secret").encode()
    for row in sheet_rows:
        if row["Diagnosis (ICD-10)"] == "not a code":
            continue
        key = sheet_source_key(secret, "sheet", "Visits", row["Record ID"])
        ids.add(record_id("gsheet", key))
        facility = geo.facilities[row["Facility ID"]]
        by_region[(facility.country_code, facility.region)] += 1
    # The sheet poller emits new and changed rows only: a second run of the demo sends
    # none of them again, so what the sheet adds to this run is counted on its topic.
    return {"ids": sorted(ids), "by_region": by_region, "produced": produced, "dead": dead}


def _sheet_rows_sent(settings: Settings, since: datetime) -> int:
    """Rows the sheet poller emitted since ``since`` (its raw topic, by Kafka time)."""
    from confluent_kafka import TopicPartition

    from daas.kafka import create_consumer

    topic = settings.topics.raw_gsheet
    consumer = create_consumer(settings, f"daas-demo-{time.monotonic_ns()}")
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        starts = consumer.offsets_for_times([TopicPartition(topic, p, int(since.timestamp() * 1000)) for p in parts],
                                            timeout=10)
        total = 0
        for tp in starts:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=10)
            total += high - tp.offset if tp.offset >= 0 else 0
        return total
    finally:
        consumer.close()


def _reconcile(settings: Settings, expected: dict[str, Any], run_started: datetime) -> DemoResult:
    import psycopg

    from daas.dlq import read_dead_letters

    sheet_sent = _sheet_rows_sent(settings, run_started)
    result = DemoResult(produced=expected["produced"] + sheet_sent, expected_by_region=expected["by_region"],
                        expected_dead=Counter(expected["dead"]))
    if sheet_sent:  # the row typed with "not a code" went out with the others
        result.expected_dead[dead_letter.ICD10_UNKNOWN] += 1
    result.valid = result.produced - sum(result.expected_dead.values())
    result.dead_lettered.update(e.reason for e in read_dead_letters(settings, since_ms=int(run_started.timestamp() * 1000)))
    ids = list(expected["ids"])
    with psycopg.connect(settings.require("warehouse_dsn"), autocommit=True) as wh:
        for table, counter in (("lake", result.lake_by_region), ("rds", result.ops_by_region)):
            counter.update({(c, r): n for c, r, n in wh.execute(
                f"select country_code, region, count(*) from {table}.encounters where record_id = any(%s::uuid[]) "
                "group by 1, 2", [ids])})
    with psycopg.connect(settings.require("rds_dsn"), autocommit=True) as rds:
        latency = rds.execute(
            "select count(*), percentile_cont(0.5) within group (order by ms), "
            "percentile_cont(0.99) within group (order by ms) from ("
            "select extract(epoch from updated_at - ingested_at) * 1000 as ms from public.encounters "
            "where ingested_at >= %s) as fresh", [run_started]).fetchone()
    result.new_rows = latency[0]
    if latency[0]:
        result.latency_ms = {"p50": round(latency[1]), "p99": round(latency[2])}
    result.alerts = _alerts(settings)
    return result


def _alerts(settings: Settings) -> list[dict[str, Any]]:
    """The latest value of every alert on the (compacted) alerts topic."""
    from confluent_kafka import TopicPartition

    from daas.kafka import create_consumer

    topic = settings.topics.surveillance_alerts
    consumer = create_consumer(settings, f"daas-demo-{time.monotonic_ns()}")
    alerts: dict[bytes, dict[str, Any]] = {}
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        waiting = {p for p, end in ends.items() if end > 0}
        deadline = time.monotonic() + 30
        while waiting and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=0.2):
                if msg.error() is None:
                    alerts[msg.key()] = json.loads(msg.value())
            for tp in consumer.position([TopicPartition(topic, p) for p in waiting]):
                if tp.offset >= ends[tp.partition]:
                    waiting.discard(tp.partition)
    finally:
        consumer.close()
    return sorted(alerts.values(), key=lambda a: (a["epi_week"], a["country_code"], a["district"]))


def render_result(result: DemoResult) -> Group:
    """The demo's closing tables: reconciliation per region, totals, latency and alerts."""
    table = Table(title="encounters per region: valid records produced, and what the warehouse holds",
                  caption="lake: via S3 Parquet and the warehouse load; ops: via PostgreSQL (RDS) and the replication")
    for col, just in (("country", "left"), ("region", "left"), ("produced", "right"),
                      ("lake", "right"), ("ops", "right"), ("match", "center")):
        table.add_column(col, justify=just)
    regions = sorted(set(result.expected_by_region) | set(result.lake_by_region) | set(result.ops_by_region))
    for key in regions:
        want, lake, ops = result.expected_by_region[key], result.lake_by_region[key], result.ops_by_region[key]
        table.add_row(key[0], key[1], f"{want:,}", f"{lake:,}", f"{ops:,}",
                      "[green]yes[/]" if want == lake == ops else "[red]NO[/]")
    table.add_row("", "[bold]total[/]", f"{sum(result.expected_by_region.values()):,}",
                  f"{sum(result.lake_by_region.values()):,}", f"{sum(result.ops_by_region.values()):,}", "")
    dead = sum(result.dead_lettered.values())
    reasons = ", ".join(f"{n} {reason}" for reason, n in result.dead_lettered.most_common())
    lines = [f"produced {result.produced:,} records: {result.valid:,} valid + {dead:,} dead-lettered "
             f"({reasons or 'none'}) — {'reconciled' if result.reconciled else 'DOES NOT RECONCILE'}"]
    if result.latency_ms:
        lines.append(f"end to end, produce → PostgreSQL: p50 {result.latency_ms['p50']:,} ms, "
                     f"p99 {result.latency_ms['p99']:,} ms over {result.new_rows:,} new rows")
    else:
        lines.append("no new rows this run: every record was already in the stores (nothing duplicated)")
    alerts = Table(title=f"outbreak alerts raised: {len(result.alerts)} (injected: {result.outbreak})",
                   title_justify="left")
    for col in ("week", "country", "district", "disease", "level", "cases", "threshold"):
        alerts.add_column(col, justify="right" if col in ("cases", "threshold") else "left")
    for a in result.alerts[-15:]:
        alerts.add_row(a["epi_week"], a["country_code"], a["district"], a["diagnosis_group"], a["level"],
                       str(a["cases"]), f"{a['threshold']:g}")
    summary = Table.grid()
    for line in [*lines, f"finished in {result.seconds:.0f}s"]:
        summary.add_row(line)
    if result.report is not None:
        summary.add_row(f"surveillance report: {result.report}")
    return Group(table, summary, alerts)
