"""Where a stage process spends its time: py-spy sampling it while it runs (``--profile``).

py-spy (a dev dependency) attaches to the running process — no restart, no
instrumentation — and writes collapsed stacks; :func:`hot_functions` reads them into
the functions with the most samples, on their own (self) and with what they call
(total). The collapsed file stays next to the results for a flame graph
(``flamegraph.pl``, speedscope).
"""

from __future__ import annotations

import re
import signal
import sys
from collections import Counter
from pathlib import Path

from daas.child import ChildProcess

__all__ = ["Profiler", "hot_functions"]

_PY_SPY = Path(sys.executable).parent / "py-spy"
_LINE = re.compile(r":\d+\)$")


class Profiler(ChildProcess):
    """py-spy recording process ``pid`` into ``out`` (collapsed stacks) until :meth:`stop`."""

    stop_signal = signal.SIGINT  # py-spy writes its file on SIGINT

    def __init__(self, pid: int, out: Path, *, rate: int = 100) -> None:
        self.out = out
        super().__init__("py-spy", [str(_PY_SPY), "record", "--pid", str(pid), "--format", "raw", "--output",
                                    str(out), "--rate", str(rate), "--nonblocking"], None, out.with_suffix(".log"))

    def stop(self, timeout: float = 30.0) -> Path:  # type: ignore[override]
        """Stop sampling and return the file."""
        super().stop(timeout)
        if not self.out.exists():
            raise RuntimeError(f"py-spy wrote no profile; see {self.out.with_suffix('.log')}")
        return self.out


def hot_functions(collapsed: Path, top: int = 12) -> list[dict[str, object]]:
    """The ``top`` functions by samples on their own, with their share of all samples, self and total."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    if not samples:
        return []
    return [{"function": name, "self": n / samples, "total": total[name] / samples}
            for name, n in own.most_common(top)]
