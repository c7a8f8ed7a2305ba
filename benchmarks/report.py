"""The suite's results: the targets of issue 11 judged on them, one table, and the JSON file.

Results are a plain dict (what ``suite`` measured, ``None`` or an ``error`` where a
measurement could not be made); the table and the JSON are both made from it, so
they never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["TARGETS", "Target", "judge", "render", "write_json"]


@dataclass(frozen=True)
class Target:
    """One acceptance target: what it says, the measured value it reads, and the bar."""

    name: str
    value: Callable[[dict[str, Any]], float | None]
    unit: str
    bar: float
    at_least: bool = True  # False: the value must stay below the bar

    def judge(self, results: dict[str, Any]) -> dict[str, Any]:
        try:
            value = self.value(results)
        except (KeyError, TypeError, ZeroDivisionError):
            value = None
        met = None if value is None else (value >= self.bar if self.at_least else value < self.bar)
        return {"target": self.name, "value": value, "unit": self.unit, "bar": self.bar, "met": met}


def _rate(results: dict[str, Any], *path: str) -> float | None:
    node: Any = results
    for key in path:
        node = node[key]
    return node["records_per_second"]


TARGETS = (
    Target("processor >= 60 % of the in-process limit per worker",
           lambda r: _rate(r, "stages", "processor_1") / _rate(r, "limits", "processor"), "%", 0.60),
    Target("two workers >= 1.6x one",
           lambda r: _rate(r, "stages", "processor_2") / _rate(r, "stages", "processor_1"), "x", 1.6),
    Target("processor >= 1.5x the Quix Streams peer",
           lambda r: _rate(r, "stages", "processor_1") / _rate(r, "peers", "quix_processor"), "x", 1.5),
    Target("end to end >= 10,000 rec/s", lambda r: _rate(r, "end_to_end"), "rec/s", 10_000),
    Target("p99 produce->PostgreSQL < 1 s at 10,000 rec/s",
           lambda r: r["latency"]["10000"]["ms"]["p99"], "ms", 1000, at_least=False),
    Target("killed worker's partitions moving again within 15 s",
           lambda r: r["recovery"]["all_seconds"], "s", 15, at_least=False),
)


def judge(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [t.judge(results) for t in TARGETS]


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, default=str) + "\n")


# -- the table ---------------------------------------------------------------------

def _n(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "%":
        return f"{value:.0%}"
    if unit in ("s", "ms"):
        return f"{value:,.1f} {unit}" if unit == "s" else f"{value:,.0f} {unit}"
    return f"{value:,.0f}" + (f" {unit}" if unit else "")


def _rss(values: Any) -> str:
    if not values:
        return "-"
    if isinstance(values, dict):
        values = list(values.values())
    return " + ".join(f"{v:.0f}" for v in values) + " MiB"


def _row(name: str, entry: dict[str, Any] | None, note: str = "", unit: str = "rec/s") -> tuple[str, ...]:
    if entry is None:
        return (name, "not run", "", note)
    if "error" in entry:
        return (name, "FAILED", "", entry["error"][:70])
    return (name, _n(entry.get("records_per_second"), unit), _rss(entry.get("peak_rss_mib")), note)


def _rows(r: dict[str, Any]) -> list[tuple[str, ...] | str]:
    limits, stages, peers = r.get("limits", {}), r.get("stages", {}), r.get("peers", {})
    producer = r.get("producer", {})
    rows: list[tuple[str, ...] | str] = ["limits (this run, in the suite's process, no start-up)"]
    rows += [_row("  librdkafka Consumer.consume(5000)", limits.get("consume"),
                  "messages/s, nothing done; fetch.queue.backoff.ms=10 as the processor; best of 3"),
             _row("    ... with librdkafka's default fetch settings", limits.get("consume_default"),
                  "as the sinks' consumers run; best of 3"),
             _row("  Avro decode raw + encode clean", limits.get("codec"), "schemas.AvroCodec, batch calls"),
             _row("  in-process processor", limits.get("processor"),
                  "Processor.process, batches of 5,000; " + _rounds(limits.get("processor"))),
             _row("  PostgreSQL COPY", limits.get("copy"), "rows/s into the sink's table shape")]
    rows += ["producer",
             _row("  SimuHealth generate + Avro encode", producer.get("generate")),
             _row("  RecordProducer (acks=all, idempotent)", producer.get("produce"), "to the raw topic")]
    rows += ["stages (each its own process, draining pre-filled topics)",
             _row("  processor, 1 worker", stages.get("processor_1"), _rounds(stages.get("processor_1"))),
             _row("  processor, 2 workers in one group", stages.get("processor_2"),
                  _rounds(stages.get("processor_2")) + _shares(stages.get("processor_2"))),
             _row("  S3 Parquet sink", stages.get("s3_sink"), "files of <= 20,000 records"),
             _row("  Postgres sink", stages.get("postgres_sink"), "upserts, 5,000-record writes"),
             _row("  surveillance (Faust), case messages", stages.get("surveillance"), _surveillance(stages),
                  unit="msg/s")]
    peer_note = peers.get("missing", "")
    rows += ["peers (Quix Streams 3.28.1, same data)",
             _row("  Quix app: Processor.process per message", peers.get("quix_processor"),
                  peer_note or _rounds(peers.get("quix_processor"))),
             _row("  Quix S3FileSink (Parquet)", peers.get("quix_s3_sink"), peer_note)]
    rows += ["end to end (processor + both sinks as processes)", _e2e_row(r.get("end_to_end")),
             *_cpu_rows(r.get("end_to_end"))]
    rows += ["produce -> visible in PostgreSQL (processor + both sinks running)"]
    for rate, entry in sorted(r.get("latency", {}).items(), key=lambda kv: float(kv[0])):
        rows.append(_latency_row(float(rate), entry))
    rows += ["recovery", _recovery_row(r.get("recovery"))]
    profiled = r.get("profiles", {}).get("processor_1")
    if profiled:
        rows += ["profile of one processor worker (py-spy; % of samples: self, with callees)",
                 *_profile_rows(profiled)]
    return rows


def _profile_rows(entry: dict[str, Any]) -> list[tuple[str, ...]]:
    if "error" in entry:
        return [_row("  processor, 1 worker", entry)]
    rows = [("  processor, 1 worker, under py-spy", _n(entry.get("records_per_second"), "rec/s"), "",
             entry["profile"]["file"])]
    for hot in entry["profile"]["hot"]:
        function, _, where = hot["function"].partition(" (")
        rows.append((f"    {function[:58]}", f"{hot['self']:.0%} / {hot['total']:.0%}", "", where.rstrip(")")))
    return rows


def _rounds(entry: dict[str, Any] | None) -> str:
    rounds = (entry or {}).get("rounds")
    if not rounds:
        return ""
    return "median of " + " / ".join("failed" if r is None else f"{r:,.0f}" for r in rounds)


def _shares(entry: dict[str, Any] | None) -> str:
    shares = (entry or {}).get("consumed_per_worker")
    if not shares or None in shares:
        return ""
    return "; consumed per worker " + " / ".join(f"{n:,}" for n in shares)


def _surveillance(stages: dict[str, Any]) -> str:
    entry = stages.get("surveillance")
    if not entry or "case_changes_per_second" not in entry:
        return ""
    return f"= {entry['case_changes_per_second']:,.0f} records/s counted"


def _e2e_row(entry: dict[str, Any] | None) -> tuple[str, ...]:
    name = "  raw topic pre-filled -> all in PostgreSQL and S3 manifests"
    if entry is None or "error" in entry:
        return _row(name, entry)
    note = (f"{entry['records']:,} records in {entry['seconds']:.1f} s from launch "
            f"(PostgreSQL {entry['postgres_seconds']:.1f} s, S3 {entry['s3_seconds']:.1f} s)")
    return (name, _n(entry["records_per_second"], "rec/s"), _rss(entry.get("peak_rss_mib")), note)


def _cpu_rows(entry: dict[str, Any] | None) -> list[tuple[str, ...]]:
    """Where the cores went during the end-to-end run: why it is as fast as it is."""
    cpu = (entry or {}).get("cpu")
    if not cpu:
        return []
    stages = ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu["stages_seconds"].items())
    share = "" if cpu["busy_share"] is None else f"; the machine was {cpu['busy_share']:.0%} busy"
    rows = [("  CPU per record, all processes", f"{cpu['us_per_record']:,.0f} µs", "",
             f"CPU s: {stages}, Kafka + S3Proxy + PostgreSQL + the suite {cpu['other_seconds']:.1f}{share}")]
    if cpu["ceiling_records_per_second"]:
        rows.append(("  ... the most these cores carry at that cost", _n(cpu["ceiling_records_per_second"], "rec/s"),
                     "", "cores / CPU per record"))
    return rows


def _latency_row(rate: float, entry: dict[str, Any]) -> tuple[str, ...]:
    name = f"  at {rate:,.0f} rec/s offered"
    if "error" in entry:
        return _row(name, entry)
    ms = entry["ms"]
    note = (f"p50 {ms['p50']:,.0f} ms, max {ms['max']:,.0f} ms; produced {entry['produced_per_second']:,.0f} rec/s "
            f"for {entry['seconds']:.0f} s" + (f"; {entry['missing']} never seen" if entry["missing"] else ""))
    return (name, f"p99 {ms['p99']:,.0f} ms", "", note)


def _recovery_row(entry: dict[str, Any] | None) -> tuple[str, ...]:
    name = "  kill -9 of 1 of 2 workers -> its partitions commit again"
    if entry is None or "error" in entry:
        return _row(name, entry)
    return (name, _n(entry["all_seconds"], "s"), "",
            f"{len(entry['partitions'])} partitions; the first moved after {entry['first_seconds']:.1f} s")


def render(results: dict[str, Any]) -> str:
    """The table: every measurement, then the targets with met / MISSED."""
    header = ("measurement", "result", "peak RSS", "notes")
    rows = _rows(results)
    cells = [r for r in rows if isinstance(r, tuple)] + [header]
    widths = [max(len(c[i]) for c in cells) for i in range(3)]

    def line(row: tuple[str, ...]) -> str:
        return (f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}").rstrip()

    out = [_title(results), "", line(header), "-" * (sum(widths) + 6 + 40)]
    out += [line(r) if isinstance(r, tuple) else r for r in rows]
    out += ["", "targets (issue 11)"]
    targets = results.get("targets", [])
    name_width = max((len(t["target"]) for t in targets), default=0)
    for t in targets:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        value = _n(t["value"], t["unit"])
        out.append(f"  {t['target']:<{name_width}}  {value:>12}  {verdict}")
    return "\n".join(out)


def _title(r: dict[str, Any]) -> str:
    m = r.get("machine", {})
    load = m.get("load", {})
    return (f"daas benchmark suite, run {r.get('run')} ({r.get('started')}): {m.get('cores')} cores, "
            f"Python {m.get('python')}; {r.get('records', 0):,} SimuHealth records "
            f"({r.get('record_bytes', 0):.0f} bytes each), {r.get('partitions')} partitions per topic\n"
            f"load average (1/5/15 min): before {_load(load.get('before'))}, after {_load(load.get('after'))}; "
            f"suite wall time {r.get('wall_seconds', 0):.0f} s")


def _load(values: list[float] | None) -> str:
    return "/".join(f"{v:.2f}" for v in values) if values else "-"
