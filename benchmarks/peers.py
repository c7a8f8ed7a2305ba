"""The peers, run on the same data as our stages: Quix Streams 3.28.1 in its own environment.

- the processor peer (``peer/quix_processor.py``): a Quix app calling our
  ``Processor.process`` per message and producing the outputs and dead letters;
  measured exactly like our worker (``stages.run_processor``: records arriving on the
  ops route and the dead-letter topic);
- the S3 sink peer (``peer/quix_s3_sink.py``): Quix's ``S3FileSink`` writing Parquet to
  the same S3, timed inside the peer (first record decoded to last write), as our
  sink is timed by its own metrics.

The environment is ``.venvs/bench-peer``, made by ``scripts/bench-peer.sh`` (``make
bench`` runs it); without it the peers are reported as not measured.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from benchmarks.stages import StageProcess, StageResult, run_processor
from benchmarks.workspace import REPO, Slice

__all__ = ["PEER_PYTHON", "peer_missing", "quix_processor", "quix_s3_sink"]

PEER_PYTHON = REPO / ".venvs" / "bench-peer" / "bin" / "python"
_PEER_DIR = Path(__file__).resolve().parent / "peer"


def peer_missing() -> str | None:
    """Why the peers cannot run, or None."""
    if not PEER_PYTHON.exists():
        return f"{PEER_PYTHON} not found; create it with scripts/bench-peer.sh (make bench does)"
    return None


def _env(piece: Slice) -> dict[str, str]:
    return {**piece.env(), "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore::DeprecationWarning"}


def quix_processor(piece: Slice, expected: int, *, timeout: float = 300.0) -> StageResult:
    """The Quix processor peer draining ``piece``'s raw topic (one process, one consumer)."""
    proc = StageProcess(f"{piece.label}-quix-processor",
                        [str(PEER_PYTHON), str(_PEER_DIR / "quix_processor.py"), piece.name("quix")],
                        _env(piece), piece.run.runtime_dir / "logs")
    return run_processor(piece, expected, timeout=timeout, processes=[proc])


def quix_s3_sink(piece: Slice, expected: int, *, idle: float = 5.0, timeout: float = 600.0) -> StageResult:
    """Quix's S3FileSink over ``piece``'s clean lake topic, into ``bench_<run>_<label>``."""
    directory = f"{piece.run.peer_s3_root}_{piece.label.replace('-', '_')}"
    proc = StageProcess(f"{piece.label}-quix-s3-sink",
                        [str(PEER_PYTHON), str(_PEER_DIR / "quix_s3_sink.py"), piece.name("quix-s3"),
                         piece.topics.clean_lake, directory, str(idle)],
                        _env(piece), piece.run.runtime_dir / "logs")
    deadline = time.monotonic() + timeout
    try:
        while proc.proc.poll() is None:
            proc.sample()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Quix S3 sink did not finish within {timeout:.0f}s")
            time.sleep(0.25)
    finally:
        proc.stop()
    lines = proc.log.read_text(errors="replace").strip().splitlines()
    if proc.proc.returncode != 0 or not lines or not lines[-1].startswith("{"):
        raise RuntimeError(f"the Quix S3 sink failed (exit {proc.proc.returncode}): {' | '.join(lines[-5:])}")
    result = json.loads(lines[-1])
    if result["rows"] != expected:
        raise RuntimeError(f"the Quix S3 sink wrote {result['rows']} rows of {expected}")
    return StageResult(result["rows"] / result["seconds"], result["rows"], None, [proc.peak_rss_mib])
