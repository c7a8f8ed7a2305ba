"""The benchmark suite: every measurement in one run, one table, one JSON file.

``make bench`` (or ``python -m benchmarks``) against the local stack. In order:

1. generate and encode the SimuHealth records, produce them to a raw topic;
2. the limits on those records (``benchmarks.limits``);
3. the processor (one worker, two workers in a group), its Quix Streams peer and its
   in-process limit, in alternating rounds so that load on the shared machine hits all
   alike (the median round is reported; with ``--profile`` one more one-worker run is sampled by
   py-spy for its hottest functions); then the sinks, surveillance and the Quix S3 sink, each
   its own process draining pre-filled topics (``benchmarks.stages``, ``benchmarks.peers``);
4. the pipeline end to end, produce→PostgreSQL latency at fixed rates, and recovery
   after a worker is killed (``benchmarks.pipeline``);
5. the table and the targets (``benchmarks.report``); everything the run created in
   Kafka, S3 and PostgreSQL is deleted.

A measurement that fails is reported as failed and the suite goes on; the exit
status is 1 when any did. Each phase prints a line with the time since the start.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import limits, peers, pipeline, stages
from benchmarks.data import RawRecords, generate, produce
from benchmarks.report import judge, render, write_json
from benchmarks.workspace import REPO, BenchRun, Slice, endpoint_env
from daas.kafka import TopicSpec, create_admin, ensure_topics
from daas.settings import load_settings

__all__ = ["ROUTES", "Suite", "main"]

# Every SimuHealth record goes to both clean topics, so both sinks get all of them.
ROUTES = {"simuhealth": ["lake", "ops"], "gsheet": ["lake"]}
DEFAULT_JSON = REPO / ".runtime" / "bench" / "results.json"


class Suite:
    """Runs the phases in order, keeping what each measured (or why it failed) in ``results``."""

    def __init__(self, run: BenchRun, *, records: int, rates: list[float], latency_seconds: float,
                 rounds: int = 3, e2e_workers: int = 1, surveillance: bool = True, profile: bool = False,
                 out: Callable[[str], None] = print) -> None:
        self.run = run
        self.records = records
        self.rates = rates
        self.latency_seconds = latency_seconds
        self.rounds = rounds
        self.e2e_workers = e2e_workers
        self.surveillance = surveillance
        self.profile = profile
        self.profile_dir = DEFAULT_JSON.parent
        self.out = out
        self.began = time.monotonic()
        self.failed = 0
        self.raw_topic = f"{run.id}-raw.health.raw.simuhealth.v1"
        self.results: dict[str, Any] = {
            "run": run.id, "started": datetime.now(tz=UTC).isoformat(timespec="seconds"),
            "records": records, "partitions": run.partitions, "rounds": rounds,
            "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                        "load": {"before": list(os.getloadavg())}},
            "phases": [], "limits": {}, "producer": {}, "stages": {}, "peers": {}, "latency": {}, "profiles": {}}

    # -- progress -------------------------------------------------------------------

    def measure(self, title: str, work: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
        """Run one measurement between two progress lines (elapsed time, duration, load); return
        its value and what is stored of it — its ``as_dict()``, or the error if it failed."""
        self.out(f"[{time.monotonic() - self.began:6.1f}s] {title} ...")
        began = time.monotonic()
        try:
            value = work()
            stored = value.as_dict() if hasattr(value, "as_dict") else value
        except Exception as exc:  # noqa: BLE001 - a failed measurement is reported, the rest still run
            self.failed += 1
            value, stored = None, {"error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
        took = time.monotonic() - began
        load = os.getloadavg()[0]
        self.results["phases"].append({"phase": title, "seconds": round(took, 1), "load_1min": load})
        status = f"failed: {stored['error']}" if value is None else _summary(stored)
        self.out(f"[{time.monotonic() - self.began:6.1f}s]   {status} ({took:.1f} s, load {load:.2f})")
        return value, stored

    def phase(self, section: str, key: str | None, title: str, work: Callable[[], Any]) -> Any:
        """``measure``, stored under ``results[section][key]`` (or ``results[section]``)."""
        value, stored = self.measure(title, work)
        if key is None:
            self.results[section] = stored
        else:
            self.results[section][key] = stored
        return value

    # -- the run ----------------------------------------------------------------------

    def run_all(self) -> dict[str, Any]:
        records = self.prepare()
        limit = None if records is None else self.measure_limits(records)
        if records is None or limit is None:
            return self.finish()
        expected = limit.clean + limit.dead  # outputs on the ops route plus dead letters
        first = self.compare_processors(records, expected)
        self.measure_downstream(first, limit.clean)
        self.measure_pipeline(records, limit.clean)
        return self.finish()

    def prepare(self) -> RawRecords | None:
        needed = max(self.records, 200 + int(max(self.rates, default=0) * self.latency_seconds))
        records: RawRecords | None = self.phase("producer", "generate",
                                                f"generating and encoding {needed:,} SimuHealth records",
                                                lambda: generate(needed))
        if records is None:
            return None
        self.results["record_bytes"] = records.mean_bytes
        ensure_topics(create_admin(self.run.settings), [TopicSpec(self.raw_topic, self.run.partitions)])
        produced = self.phase("producer", "produce", f"producing {self.records:,} records to {self.raw_topic}",
                              lambda: _produced(produce(self.run.settings, self.raw_topic, records,
                                                        count=self.records)))
        return records if produced is not None else None

    def measure_limits(self, records: RawRecords) -> limits.ProcessorLimit | None:
        settings, raw, values = self.run.settings, self.raw_topic, records.values[:self.records]
        # A pass over the topic takes about a second: the best of three is the limit.
        self.phase("limits", "consume", "limit: librdkafka consume (fetch.queue.backoff.ms=10), best of 3",
                   lambda: _best(lambda: limits.consume_limit(settings, raw, self.records, **limits.FAST_FETCH)))
        self.phase("limits", "consume_default", "limit: librdkafka consume (librdkafka's defaults), best of 3",
                   lambda: _best(lambda: limits.consume_limit(settings, raw, self.records)))
        limit: limits.ProcessorLimit | None = self.phase(
            "limits", "processor", "limit: in-process processor (Processor.process)",
            lambda: limits.processor_limit(settings, values))
        if limit is None:
            return None
        self.phase("limits", "codec", "limit: Avro decode + encode",
                   lambda: {"records_per_second": limits.codec_limit(values, limit.clean_records)})
        schema = f"{self.run.id}_limits".replace("-", "_")
        self.run.schemas.append(schema)
        self.phase("limits", "copy", "limit: PostgreSQL COPY",
                   lambda: {"records_per_second": limits.copy_limit(settings, schema, limit.clean_values)})
        limit.clean_records.clear()
        limit.clean_values.clear()
        return limit

    def compare_processors(self, records: RawRecords, expected: int) -> Slice:
        """Rounds of: one worker, the Quix peer, two workers (and, from the second round on, the
        in-process limit again); the median round of each is kept. Returns the first one-worker
        slice, whose clean topics feed the sinks."""
        missing = peers.peer_missing()
        if missing:
            self.results["peers"]["missing"] = missing
            self.out(f"peers not measured: {missing}")
        runs: dict[str, list[dict[str, Any]]] = {"processor_1": [], "quix_processor": [], "processor_2": [],
                                                 "limit": [self.results["limits"]["processor"]]}
        slices: list[Slice] = []
        for n in range(1, self.rounds + 1):
            of = f" (round {n} of {self.rounds})"
            if n > 1:
                runs["limit"].append(self.measure("limit: in-process processor" + of, lambda: limits.processor_limit(
                    self.run.settings, records.values[:self.records], sample=0))[1])
            one = self.run.slice(f"processor-1-r{n}", raw_topic=self.raw_topic, routes=ROUTES)
            slices.append(one)
            runs["processor_1"].append(self.measure(
                "stage: processor, 1 worker (python -m stream_processors)" + of,
                lambda one=one: stages.run_processor(one, expected, workers=1))[1])
            if not missing:
                quix = self.run.slice(f"quix-r{n}", raw_topic=self.raw_topic, routes=ROUTES)
                runs["quix_processor"].append(self.measure(
                    "peer: Quix Streams app calling Processor.process per message" + of,
                    lambda quix=quix: peers.quix_processor(quix, expected))[1])
            two = self.run.slice(f"processor-2-r{n}", raw_topic=self.raw_topic, routes=ROUTES)
            runs["processor_2"].append(self.measure(
                "stage: processor, 2 workers in one group" + of,
                lambda two=two: stages.run_processor(two, expected, workers=2))[1])
        self.results["limits"]["processor"] = _median(runs["limit"])
        self.results["stages"]["processor_1"] = _median(runs["processor_1"])
        self.results["stages"]["processor_2"] = _median(runs["processor_2"])
        if not missing:
            self.results["peers"]["quix_processor"] = _median(runs["quix_processor"])
        if self.profile:
            sampled = self.run.slice("processor-1-profiled", raw_topic=self.raw_topic, routes=ROUTES)
            out = self.profile_dir / f"{self.run.id}-processor.collapsed"
            self.phase("profiles", "processor_1", "profile: processor, 1 worker, sampled by py-spy",
                       lambda: stages.run_processor(sampled, expected, workers=1, profile=out))
        return slices[0]

    def measure_downstream(self, first: Slice, clean: int) -> None:
        """The sinks, their S3 peer and surveillance, over what the first one-worker run wrote."""
        self.phase("stages", "s3_sink", "stage: S3 Parquet sink (python -m sinks s3)",
                   lambda: stages.run_sink(first, "s3", clean))
        self.phase("stages", "postgres_sink", "stage: Postgres sink (python -m sinks postgres)",
                   lambda: stages.run_sink(first, "postgres", clean))
        if "missing" not in self.results["peers"]:
            self.phase("peers", "quix_s3_sink", "peer: Quix Streams S3FileSink (Parquet)",
                       lambda: peers.quix_s3_sink(first, clean))
        if self.surveillance:
            self.phase("stages", "surveillance", "stage: surveillance (Faust) over the case messages",
                       lambda: stages.run_surveillance(first))

    def measure_pipeline(self, records: RawRecords, clean: int) -> None:
        e2e = self.run.slice("e2e", raw_topic=self.raw_topic, routes=ROUTES)
        self.phase("end_to_end", None,
                   f"end to end: {self.records:,} raw records -> processor x{self.e2e_workers} + S3 sink + "
                   "Postgres sink", lambda: pipeline.end_to_end(e2e, clean, workers=self.e2e_workers))
        for rate in self.rates:
            piece = self.run.slice(f"latency-{rate:.0f}", routes=ROUTES)
            self.phase("latency", f"{rate:.0f}",
                       f"latency: producer paced at {rate:,.0f} rec/s for {self.latency_seconds:.0f} s",
                       lambda piece=piece, rate=rate: pipeline.latency(piece, records, rate=rate,
                                                                       seconds=self.latency_seconds))
        crash = self.run.slice("recovery", routes=ROUTES)
        self.phase("recovery", None, "recovery: two workers fed 4,000 rec/s, kill -9 one",
                   lambda: pipeline.recovery(crash, records))

    def finish(self) -> dict[str, Any]:
        self.results["machine"]["load"]["after"] = list(os.getloadavg())
        self.results["wall_seconds"] = time.monotonic() - self.began
        self.results["targets"] = judge(self.results)
        return self.results


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate, with every round's rate (None for a failed round) beside it."""
    done = sorted((r for r in runs if r.get("records_per_second") is not None), key=lambda r: r["records_per_second"])
    if not done:
        return runs[0] if runs else {"error": "not run"}
    return {**done[(len(done) - 1) // 2], "rounds": [r.get("records_per_second") for r in runs]}


def _best(measure: Callable[[], float], times: int = 3) -> dict[str, Any]:
    rates = [measure() for _ in range(times)]
    return {"records_per_second": max(rates), "passes": rates}


def _produced(outcome: tuple[int, float]) -> dict[str, float]:
    delivered, seconds = outcome
    return {"records_per_second": delivered / seconds, "records": delivered}


def _summary(stored: Any) -> str:
    if isinstance(stored, dict):
        if stored.get("records_per_second") is not None:
            return f"{stored['records_per_second']:,.0f}/s"
        if stored.get("all_seconds") is not None:
            return f"{stored['all_seconds']:,.1f} s"
        if "ms" in stored:
            return f"p50 {stored['ms']['p50']:,.0f} ms, p99 {stored['ms']['p99']:,.0f} ms"
    return "done"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000, help="records pre-filled for every stage")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of every topic of the run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the processor comparison")
    parser.add_argument("--rates", type=float, nargs="*", default=[2000.0, 10_000.0],
                        help="offered loads of the latency runs (records/s)")
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="length of each latency run")
    parser.add_argument("--e2e-workers", type=int, default=1, help="processor workers in the end-to-end run")
    parser.add_argument("--no-surveillance", action="store_true", help="skip the surveillance stage")
    parser.add_argument("--profile", action="store_true",
                        help="one more one-worker processor run, sampled by py-spy: its hottest functions")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write the results")
    parser.add_argument("--keep", action="store_true",
                        help="keep the run's topics, objects, tables and stage logs (logs are kept anyway when a "
                             "measurement failed)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings(routes=ROUTES)
    run = BenchRun(settings, endpoint_env(settings), partitions=args.partitions)
    suite = Suite(run, records=args.records, rates=args.rates, latency_seconds=args.latency_seconds,
                  rounds=args.rounds, e2e_workers=args.e2e_workers, surveillance=not args.no_surveillance,
                  profile=args.profile, out=lambda line: print(line, flush=True))
    print(f"benchmark run {run.id}: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}", flush=True)
    try:
        results = suite.run_all()
    finally:
        if not args.keep:
            for problem in run.cleanup(keep_logs=suite.failed > 0):
                print(f"cleanup: {problem}", file=sys.stderr)
    if suite.failed or args.keep:
        print(f"stage logs: {run.runtime_dir / 'logs'}")
    write_json(results, args.json)
    print()
    print(render(results))
    print(f"\nresults: {args.json}")
    return 1 if suite.failed else 0
