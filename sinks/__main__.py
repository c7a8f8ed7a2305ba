"""``python -m sinks s3|postgres|alerts|dead-letters``: run one sink until SIGTERM/SIGINT (or idle).

The process a container (and the crash tests) runs. Settings come from the
environment as for every stage; the options tune the flush policy and memory budget.
On SIGTERM it writes what is buffered, commits and prints its counts as JSON.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from types import FrameType

from daas.errors import DaasError
from daas.logs import configure_logging
from daas.settings import load_settings
from sinks.service import KINDS, SinkOptions, run_sink


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sinks", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--group", dest="group_id", help="consumer group (default daas-<kind>-sink)")
    parser.add_argument("--stop-when-idle", type=float, help="exit after this many seconds without records")
    parser.add_argument("--max-records", type=int, help="records per write (file)")
    parser.add_argument("--max-bytes", type=int, help="key+value bytes per write (file)")
    parser.add_argument("--record-time-interval-ms", type=int, help="record-time window per write (file)")
    parser.add_argument("--idle-seconds", type=float, help="write a partition idle for this long")
    parser.add_argument("--budget-bytes", type=int, help="bytes all partitions may buffer")
    parser.add_argument("--budget-records", type=int, help="records all partitions may buffer")
    parser.add_argument("--max-backoff", type=float, default=30.0, help="longest wait between retries")
    parser.add_argument("--pg-schema", default="public", help="Postgres schema of the table")
    parser.add_argument("--pg-table", default="encounters", help="Postgres table")
    parser.add_argument("--session-timeout-ms", type=int, help="how soon a crashed instance's partitions move")
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.log_level)
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    fields = {k: v for k, v in vars(args).items() if k in SinkOptions.__dataclass_fields__}
    try:
        stats = run_sink(load_settings(), args.kind, SinkOptions(**fields), should_stop=lambda: stopping,
                         stop_when_idle=args.stop_when_idle)
    except DaasError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"sink": args.kind, "consumed": stats.consumed, "written": stats.written,
                      "dead_lettered": stats.dead_lettered, "writes": stats.batches, "commits": stats.commits,
                      "retries": stats.retries, "peak_buffered_bytes": stats.peak_buffered_bytes}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
