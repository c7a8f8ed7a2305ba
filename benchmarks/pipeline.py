"""The whole pipeline as processes: end-to-end throughput, produce→PostgreSQL latency, recovery.

- :func:`end_to_end`: a pre-filled raw topic → the processor and both sinks started
  together → every record a row in PostgreSQL and listed in the S3 sink's committed
  manifests; timed from the launch of the processes (start-up included).
- :func:`latency`: the same pipeline on an empty raw topic; after a warm-up proves it
  flows, the producer is paced at a fixed rate, and each row's latency is the time a
  poller first sees it in PostgreSQL minus its ``ingested_at`` (the raw record's Kafka
  timestamp, set when it was produced).
- :func:`recovery`: two processor workers in one group under a steady feed; one is
  killed with SIGKILL; the time until every partition it held has its committed
  offset advance again.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from confluent_kafka.admin import AdminClient
from psycopg import sql

from benchmarks.data import RawRecords, produce
from benchmarks.observe import CommittedOffsets, LakeManifests, PostgresRows, machine_cpu_seconds
from benchmarks.stages import StageProcess, processor_workers, sink_process
from benchmarks.workspace import Slice
from daas.kafka import create_admin
from stream_processors.worker import processor_group

__all__ = ["end_to_end", "latency", "recovery"]


def _pipeline(piece: Slice, workers: int) -> list[StageProcess]:
    return [*processor_workers(piece, workers), sink_process(piece, "s3"), sink_process(piece, "postgres")]


def _stop(procs: list[StageProcess]) -> None:
    for proc in procs:
        proc.stop()


def end_to_end(piece: Slice, expected: int, *, workers: int = 1, timeout: float = 600.0) -> dict[str, Any]:
    """Seconds and records/s until all ``expected`` records are in PostgreSQL and in S3 manifests,
    and where the machine's CPU went meanwhile (:func:`_cpu_split`)."""
    rows = PostgresRows(piece.settings, piece.pg_schema)
    lake = LakeManifests(piece.settings, piece.s3_prefix)
    began, machine_before = time.monotonic(), machine_cpu_seconds()
    procs = _pipeline(piece, workers)
    done: dict[str, float] = {}
    try:
        while len(done) < 2:
            counts = {"postgres": rows.count() if "postgres" not in done else expected,
                      "s3": lake.count() if "s3" not in done else expected}
            for store, count in counts.items():
                if count >= expected and store not in done:
                    done[store] = time.monotonic() - began
            for proc in procs:
                proc.sample()
                proc.check_alive()
            if time.monotonic() - began > timeout:
                raise RuntimeError(f"after {timeout:.0f}s: {counts} of {expected}")
            time.sleep(0.25)
        for proc in procs:
            proc.sample()
        cpu = _cpu_split(piece, procs, machine_before, machine_cpu_seconds(), expected)
    finally:
        _stop(procs)
        rows.close()
    seconds = max(done.values())
    return {"records": expected, "seconds": seconds, "records_per_second": expected / seconds,
            "postgres_seconds": done["postgres"], "s3_seconds": done["s3"], "processor_workers": workers,
            "peak_rss_mib": {p.name.removeprefix(f"{piece.label}-"): p.peak_rss_mib for p in procs}, "cpu": cpu}


def _cpu_split(piece: Slice, procs: list[StageProcess], before: tuple[float, float], after: tuple[float, float],
               records: int) -> dict[str, Any]:
    """CPU seconds per stage process and for everything else (Kafka, S3Proxy, PostgreSQL, this
    suite's polling), the machine's busy share, and the records/s the machine could carry at
    this much CPU per record — the ceiling a run on these cores cannot pass."""
    stages = {p.name.removeprefix(f"{piece.label}-"): p.cpu_seconds for p in procs}
    busy, total = after[0] - before[0], after[1] - before[1]  # CPU seconds, all cores together
    per_record = busy / records
    return {"stages_seconds": stages, "other_seconds": max(busy - sum(stages.values()), 0.0), "busy_seconds": busy,
            "busy_share": busy / total if total else None, "us_per_record": per_record * 1e6,
            "ceiling_records_per_second": (os.cpu_count() or 1) / per_record if per_record else None}


@dataclass
class _Visibility:
    """Polls the Postgres sink's table for new rows (by its indexed ``updated_at``) and
    notes when each was first seen next to its ``ingested_at``."""

    piece: Slice
    interval: float = 0.02
    seen: list[tuple[float, float, float]] = field(default_factory=list)  # (seen, ingested_at, updated_at)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        table = sql.Identifier(self.piece.pg_schema, "encounters")
        query = sql.SQL("select ingested_at, updated_at from {} where updated_at > %s order by updated_at").format(
            table)
        last = datetime.fromtimestamp(0).astimezone()
        with psycopg.connect(self.piece.settings.require("rds_dsn"), autocommit=True) as conn:
            while not self.stop.is_set():
                rows = conn.execute(query, (last,)).fetchall()
                now = time.time()
                for ingested, updated in rows:
                    self.seen.append((now, ingested.timestamp(), updated.timestamp()))
                if rows:
                    last = rows[-1][1]
                time.sleep(self.interval)


def _percentiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49], "p99": cuts[98], "max": max(values)}


def latency(piece: Slice, records: RawRecords, *, rate: float, seconds: float, warmup: int = 200,
            workers: int = 1, drain_timeout: float = 60.0) -> dict[str, Any]:
    """p50/p99/max milliseconds from produce to visible in PostgreSQL at ``rate`` records/s."""
    count = int(rate * seconds)
    if warmup + count > len(records):
        raise ValueError(f"{warmup + count} records needed, {len(records)} generated")
    settings = piece.settings
    rows = PostgresRows(settings, piece.pg_schema)
    procs = _pipeline(piece, workers)
    watcher = _Visibility(piece)
    poller = threading.Thread(target=watcher.run, name="visibility", daemon=True)
    try:
        produce(settings, piece.topics.raw_simuhealth, records, count=warmup)
        _wait(procs, lambda: rows.count() >= warmup, 120, "the warm-up records to reach PostgreSQL")
        poller.start()
        began = time.time()
        delivered, took = produce(settings, piece.topics.raw_simuhealth, records, start=warmup, count=count,
                                  rate=rate)
        _wait(procs, lambda: rows.count() >= warmup + delivered, drain_timeout, "the paced records to drain",
              fail=False)
        time.sleep(4 * watcher.interval)
    finally:
        watcher.stop.set()
        if poller.is_alive():
            poller.join(timeout=10)
        _stop(procs)
        rows.close()
    paced = [(s, i, u) for s, i, u in watcher.seen if i >= began - 0.001]
    if not paced:
        raise RuntimeError("no paced record became visible in PostgreSQL")
    visible = _percentiles([(s - i) * 1000 for s, i, _ in paced])
    committed = _percentiles([(u - i) * 1000 for _, i, u in paced])
    return {"offered_per_second": rate, "produced_per_second": delivered / took, "records": delivered,
            "visible": len(paced), "missing": delivered - len(paced), "ms": visible,
            "ms_row_written": committed, "seconds": seconds, "processor_workers": workers}


def _wait(procs: list[StageProcess], done: Any, timeout: float, what: str, *, fail: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        for proc in procs:
            proc.sample()
            proc.check_alive()
        if time.monotonic() > deadline:
            if fail:
                raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")
            return
        time.sleep(0.1)


def _assignment(admin: AdminClient, piece: Slice) -> dict[str, list[int]]:
    """Client id → the raw SimuHealth partitions it holds, from that topic's processor group."""
    group = processor_group(piece.settings, piece.topics.raw_simuhealth)
    description = admin.describe_consumer_groups([group], request_timeout=10)[group].result(timeout=20)
    return {m.client_id: sorted(tp.partition for tp in m.assignment.topic_partitions) for m in description.members}


def recovery(piece: Slice, records: RawRecords, *, rate: float = 4000.0, timeout: float = 120.0) -> dict[str, Any]:
    """Seconds from SIGKILL of one of two workers until each raw partition it held moves again.

    The producer keeps ``rate`` records/s flowing into ``piece``'s (empty) raw topic the
    whole time, so every partition always has records to move on to. The victim is the
    worker holding the most raw SimuHealth partitions."""
    settings = piece.settings
    raw = piece.topics.raw_simuhealth
    partitions = list(range(piece.run.partitions))
    admin = create_admin(settings)  # one client, referenced until every future it made resolves
    stop = threading.Event()
    feeder = threading.Thread(target=produce, name="feeder", daemon=True, args=(settings, raw, records),
                              kwargs={"count": int(rate * (timeout + 120)), "rate": rate, "should_stop": stop.is_set})
    feeder.start()
    workers = processor_workers(piece, 2)
    committed = CommittedOffsets(settings, processor_group(settings, raw))
    try:
        def both_working() -> bool:
            held = _assignment(admin, piece)
            offsets = committed.read(raw, partitions)
            return (len(held) == 2 and sorted(p for ps in held.values() for p in ps) == partitions
                    and all(o > 0 for o in offsets.values()))

        _wait(workers, both_working, 90, "both workers in the group and every raw partition committed")
        held_by = _assignment(admin, piece)
        victim_id, held = max(held_by.items(), key=lambda item: len(item[1]))
        victim = workers[int(victim_id.rsplit("-w", 1)[1]) - 1]  # client id "<app id>-w<n>"
        survivor = next(w for w in workers if w is not victim)
        killed = time.monotonic()
        victim.kill()
        time.sleep(0.3)  # a commit the victim sent before it died lands now, not later
        before = committed.read(raw, held)
        moved: dict[int, float] = {}
        while len(moved) < len(held):
            now = committed.read(raw, held)
            at = time.monotonic() - killed
            moved.update({p: at for p in held if p not in moved and now[p] > before[p]})
            survivor.sample()
            survivor.check_alive()
            if at > timeout:
                raise RuntimeError(f"partitions {sorted(set(held) - set(moved))} did not move within {timeout:.0f}s")
            time.sleep(0.1)
    finally:
        stop.set()
        _stop(workers)
        committed.close()
        feeder.join(timeout=150)
    return {"partitions": held, "assignment": held_by, "feed_per_second": rate,
            "first_seconds": min(moved.values()), "all_seconds": max(moved.values()),
            "per_partition_seconds": {str(p): s for p, s in sorted(moved.items())}}
