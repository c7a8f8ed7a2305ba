"""A pipeline command run as a child process, for the demo, the benchmarks and the tests.

Its output goes to a log file (appended, so a restarted stage keeps one log); it is
stopped with SIGTERM, so it finishes what it holds, commits and leaves its group, and
killed if it does not exit in time — or killed at once with ``kill()``, like a crashed pod.
The local stack's servers are managed elsewhere (``daas.stack``): they outlive the
command that started them.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

__all__ = ["ChildProcess"]


class ChildProcess:
    """``argv`` running as a child, its stdout and stderr appended to ``log``."""

    stop_signal = signal.SIGTERM  # what asks it to finish

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str] | None, log: Path, *,
                 cwd: Path | None = None) -> None:
        """``env`` None: this process's environment."""
        log.parent.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log = log
        self._handle = log.open("ab")
        self.proc = subprocess.Popen(list(argv), env=env, cwd=cwd, stdout=self._handle,  # noqa: S603
                                     stderr=subprocess.STDOUT)

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the log (what to show when the process died)."""
        return self.log.read_text(errors="replace")[-chars:]

    def kill(self) -> None:
        """SIGKILL: no commit, no leaving the group."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self, timeout: float = 60.0) -> None:
        """``stop_signal``, SIGKILL if it does not exit within ``timeout`` seconds; closes the log."""
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._handle.close()
