"""Start, find and stop the stack's server processes.

A process belongs to the stack only if its pid file is in the runtime folder *and*
its command line names that folder, so a recycled pid is never signalled.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from daas.errors import StackError

__all__ = ["ManagedProcess", "port_is_bindable", "port_is_open", "wait_until"]


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_is_bindable(host: str, port: int) -> bool:
    """True when a server could listen on host:port now.

    Not the same as "nothing listens there": an outgoing connection whose local end
    the kernel took from its ephemeral range (32768-60999 on Linux) holds the port
    too, and a server's bind then fails although a connection attempt is refused.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, log: Path | None = None) -> None:
    """Poll ``check`` until it is true; raise StackError naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)
    tail = ""
    if log is not None and log.is_file():
        lines = log.read_text(errors="replace").splitlines()[-15:]
        tail = "\nlast lines of " + str(log) + ":\n" + "\n".join(lines)
    raise StackError(f"{what} not ready after {timeout:.0f}s{tail}")


class ManagedProcess:
    """A long-running server process tracked by a pid file."""

    def __init__(self, name: str, pid_file: Path, log_file: Path, marker: str) -> None:
        self.name = name
        self.pid_file = pid_file
        self.log_file = log_file
        self._marker = marker

    def pid(self) -> int | None:
        """The pid of our live process, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None
        if self._owns(pid):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def _owns(self, pid: int) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return False
        return state != "Z" and self._marker in cmdline

    def spawn(self, argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
        """Start ``argv`` detached (own session), output appended to the log file."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - argv is built by the stack, not from input
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
                cwd=cwd,
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        return proc.pid

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the process group, SIGKILL after ``timeout``; True if one was running."""
        pid = self.pid()
        if pid is None:
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._owns(pid):
            time.sleep(0.2)
        if self._owns(pid):
            _signal_group(pid, signal.SIGKILL)
            wait_until(lambda: not self._owns(pid), timeout=10, what=f"{self.name} to exit")
        self.pid_file.unlink(missing_ok=True)
        return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(os.getpgid(pid), sig)
    except ProcessLookupError:
        return
    except PermissionError as exc:
        raise StackError(f"not allowed to signal pid {pid}: {exc}") from exc
