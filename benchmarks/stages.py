"""Each stage as the deployment runs it — its own process — draining a pre-filled topic.

- the processor: ``python -m stream_processors`` (what ``daas process`` runs), one or
  more workers in one consumer group, timed by the records arriving on its output
  topics (clean ops route + dead letters);
- the S3 and Postgres sinks: ``python -m sinks s3|postgres``, timed by their own
  ``/metrics`` (from the first record buffered to the last one made durable);
- surveillance: ``python -m stream_processors.surveillance`` (Faust) over the case
  messages the processor wrote, timed by its message counter.

Rates leave start-up out (``observe.Samples``); start-up to the first output is
reported on its own. Peak RSS is each process's VmHWM, read just before it stops.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.observe import Metrics, Samples, TopicCounts, cpu_seconds, free_port, peak_rss_mib
from benchmarks.profile import Profiler, hot_functions
from benchmarks.workspace import REPO, Slice
from daas.child import ChildProcess

__all__ = [
    "S3_SINK_OPTIONS",
    "StageProcess",
    "StageResult",
    "drain",
    "processor_workers",
    "run_processor",
    "run_sink",
    "run_surveillance",
    "sink_process",
]

# Files of at most 20,000 records and a one-second idle flush: the run measures writing,
# not the production policy's timers (100,000 records or 60 idle seconds per file).
S3_SINK_OPTIONS = ("--max-records", "20000", "--idle-seconds", "1")


class StageProcess(ChildProcess):
    """One stage process: started with its log in the run's folder, sampled for RSS, stopped or killed."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], log_dir: Path) -> None:
        super().__init__(name, argv, env, log_dir / f"{name}.log", cwd=REPO)
        self.peak_rss_mib = 0.0
        self.cpu_seconds = 0.0

    def sample(self) -> None:
        rss, cpu = peak_rss_mib(self.proc.pid), cpu_seconds(self.proc.pid)
        if rss is not None:
            self.peak_rss_mib = max(self.peak_rss_mib, rss)
        if cpu is not None:
            self.cpu_seconds = cpu

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; its log ends:\n{self.log_tail()}")

    def kill(self) -> None:
        self.sample()
        super().kill()

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (the stage commits and leaves its group), SIGKILL if it does not exit in time."""
        if self.proc.poll() is None:
            self.sample()
        super().stop(timeout)


@dataclass
class StageResult:
    """A stage's throughput, start-up and the peak RSS of each of its processes."""

    records_per_second: float | None
    records: int
    startup_seconds: float | None
    peak_rss_mib: list[float] = field(default_factory=list)
    detail: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"records_per_second": self.records_per_second, "records": self.records,
                "startup_seconds": self.startup_seconds, "peak_rss_mib": self.peak_rss_mib, **self.detail}


def drain(processes: Sequence[StageProcess], count: Callable[[], int], expected: int, *,
          timeout: float, interval: float = 0.25) -> Samples:
    """Observe ``count()`` until it reaches ``expected``; raise if a process dies or time runs out."""
    samples = Samples()
    deadline = samples.began + timeout
    while True:
        samples.add(count())
        for proc in processes:
            proc.sample()
            proc.check_alive()
        if samples.last >= expected:
            return samples
        if time.monotonic() > deadline:
            raise RuntimeError(f"{samples.last} of {expected} after {timeout:.0f}s")
        time.sleep(interval)


def processor_workers(piece: Slice, workers: int, *, label: str = "processor",
                      **env: str) -> list[StageProcess]:
    return [StageProcess(f"{piece.label}-{label}-{i + 1}", [sys.executable, "-m", "stream_processors"],
                         piece.env(DAAS_PROCESSOR_INSTANCE_ID=f"w{i + 1}", **env), piece.run.runtime_dir / "logs")
            for i in range(workers)]


def run_processor(piece: Slice, expected: int, *, workers: int = 1, timeout: float = 300.0,
                  processes: list[StageProcess] | None = None, profile: Path | None = None) -> StageResult:
    """Drain ``piece``'s raw topic with ``workers`` processor workers (or the given processes,
    e.g. a peer) until ``expected`` records are on the ops route and the dead-letter topic;
    with ``profile``, the first process is sampled by py-spy into that file."""
    counts = TopicCounts(piece.settings)
    procs = processes if processes is not None else processor_workers(piece, workers)
    profiler = Profiler(procs[0].proc.pid, profile) if profile is not None else None
    try:
        samples = drain(procs, lambda: counts.count(piece.topics.clean_ops, piece.topics.dlq), expected,
                        timeout=timeout)
    finally:
        if profiler is not None:
            profiler.stop()
        for proc in procs:
            proc.stop()
        counts.close()
    result = StageResult(samples.rate(), samples.last, samples.first_seen(), [p.peak_rss_mib for p in procs])
    if profile is not None:
        result.detail["profile"] = {"file": str(profile), "hot": hot_functions(profile)}
    if processes is None and workers > 1:
        result.detail["consumed_per_worker"] = [_consumed(p) for p in procs]
    return result


def _consumed(worker: StageProcess) -> int | None:
    """Records a worker consumed, from the line it prints when it stops."""
    found = re.findall(r"^processor: (\d+) consumed", worker.log.read_text(errors="replace"), re.MULTILINE)
    return int(found[-1]) if found else None


def sink_process(piece: Slice, kind: str, *, metrics_port: int | None = None) -> StageProcess:
    options = S3_SINK_OPTIONS if kind == "s3" else ()
    extra = {"DAAS_METRICS_PORT": str(metrics_port)} if metrics_port else {}
    return StageProcess(f"{piece.label}-{kind}-sink",
                        [sys.executable, "-m", "sinks", kind, "--group", piece.name(f"{kind}-sink"),
                         "--pg-schema", piece.pg_schema, *options],
                        piece.env(**extra), piece.run.runtime_dir / "logs")


def run_sink(piece: Slice, kind: str, expected: int, *, timeout: float = 300.0) -> StageResult:
    """Run sink ``kind`` over ``piece``'s clean topic until ``expected`` records are durable."""
    port = free_port()
    proc = sink_process(piece, kind, metrics_port=port)
    metrics = Metrics(port)
    began = time.monotonic()
    busy: list[float] = []  # when the first record was buffered or written

    def written() -> int:
        now = metrics.read()
        if not busy and (now.get("daas_sink_buffered_bytes", 0) > 0 or now.get("daas_sink_records_written_total", 0)):
            busy.append(time.monotonic())
        return int(now.get("daas_sink_records_written_total", 0))

    try:
        samples = drain([proc], written, expected, timeout=timeout, interval=0.1)
    finally:
        proc.stop()
    done = samples.finished()
    if not busy or done is None:
        raise RuntimeError(f"{kind} sink: /metrics never showed a record buffered or written")
    rate = samples.last / (done + samples.began - busy[0])
    return StageResult(rate, samples.last, busy[0] - began, [proc.peak_rss_mib])


def run_surveillance(piece: Slice, *, timeout: float = 120.0) -> StageResult:
    """Faust surveillance over every case message ``piece``'s processor wrote."""
    counts = TopicCounts(piece.settings)
    expected = counts.count(piece.topics.surveillance_cases)
    counts.close()
    port = free_port()
    proc = StageProcess(f"{piece.label}-surveillance", [sys.executable, "-m", "stream_processors.surveillance"],
                        piece.env(DAAS_METRICS_PORT=str(port)), piece.run.runtime_dir / "logs")
    metrics = Metrics(port)
    changes: list[float] = [0.0]

    def handled() -> int:
        now = metrics.read()
        changes[0] = now.get("daas_surveillance_case_changes_total", 0.0)
        return int(now.get("daas_surveillance_messages_total", 0))

    try:
        samples = drain([proc], handled, expected, timeout=timeout)
    finally:
        proc.stop()
    rate = samples.rate()
    per_message = changes[0] / samples.last if samples.last else 0.0
    return StageResult(rate, samples.last, samples.first_seen(), [proc.peak_rss_mib],
                       {"case_changes": changes[0], "case_changes_per_second": (rate or 0.0) * per_message})
