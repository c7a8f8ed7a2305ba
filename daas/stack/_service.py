"""What every server of the local stack offers the launcher."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from daas.errors import StackError
from daas.stack._process import ManagedProcess, port_is_bindable, port_is_open, wait_until

__all__ = ["Service", "ServiceStatus"]


@dataclass(frozen=True)
class ServiceStatus:
    """One row of `daas stack status`."""

    name: str
    pid: int | None
    endpoint: str
    healthy: bool
    detail: str


class Service(ABC):
    """A server the stack starts, health-checks and stops; data and log under ``home``."""

    name: str
    port_setting: str  # the DAAS_* variable that moves this service's port

    def __init__(self, home: Path, host: str, port: int) -> None:
        self.home = home
        self.host = host
        self.port = port
        self.process = ManagedProcess(
            self.name, home / f"{self.name}.pid", home / f"{self.name}.log", marker=str(home)
        )

    @property
    def ports(self) -> tuple[int, ...]:
        """Every port the server listens on."""
        return (self.port,)

    @property
    def log_file(self) -> Path:
        return self.process.log_file

    @property
    @abstractmethod
    def endpoint(self) -> str:
        """How clients reach the service (bootstrap servers, URL, DSN without secrets)."""

    @abstractmethod
    def _launch(self) -> None:
        """Spawn the server process (called only when it is not running)."""

    @abstractmethod
    def check_health(self) -> str:
        """Ask the server a real question; return a short description or raise."""

    def stop(self) -> bool:
        """Stop our process; True if one was running."""
        return self.process.stop()

    def start(self) -> bool:
        """Start the server unless ours already runs; True if a process was started."""
        if self.process.pid() is not None:
            return False
        for port in self.ports:
            self._check_port(port)
        self.home.mkdir(parents=True, exist_ok=True)
        self._launch()
        return True

    def _check_port(self, port: int) -> None:
        if port_is_open(self.host, port):
            raise StackError(
                f"port {self.host}:{port} for {self.name} is taken by a process the stack "
                f"did not start; stop it, or choose another port with {self.port_setting}"
            )
        try:
            # Held as the local end of an outgoing connection: free once it closes.
            wait_until(lambda: port_is_bindable(self.host, port), timeout=10, what=f"port {port}")
        except StackError:
            raise StackError(
                f"port {self.host}:{port} for {self.name} is held by an open connection's local end "
                "(Linux hands ports 32768-60999 to outgoing connections); close it, or choose a port "
                f"below 32768 with {self.port_setting}"
            ) from None

    def status(self) -> ServiceStatus:
        pid = self.process.pid()
        if pid is None:
            return ServiceStatus(self.name, None, self.endpoint, False, "not running")
        try:
            detail = self.check_health()
            healthy = True
        except Exception as exc:  # noqa: BLE001 - status reports any failure as unhealthy
            detail, healthy = f"{type(exc).__name__}: {exc}".splitlines()[0][:120], False
        return ServiceStatus(self.name, pid, self.endpoint, healthy, detail)

    def wait_ready(self, timeout: float) -> None:
        """Block until the health check passes; StackError with the log tail otherwise."""
        wait_until(self.healthy, timeout=timeout, what=f"{self.name} health check", log=self.log_file)

    def healthy(self) -> bool:
        """Readiness probe used while waiting for start-up."""
        try:
            self.check_health()
        except ImportError as exc:
            # Waiting cannot help: this environment lacks the client (e.g. the Airflow one).
            raise StackError(f"cannot health-check {self.name} from this environment: {exc}") from exc
        except Exception:  # noqa: BLE001 - not ready yet, whatever the reason
            return False
        return True
