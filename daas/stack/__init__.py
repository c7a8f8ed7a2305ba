"""The local stack: real Kafka, S3Proxy and PostgreSQL servers on loopback, no Docker.

``LocalStack.up()`` fetches what is missing, starts what is not running, waits for
each server to answer a real request, provisions the pipeline's topics, bucket and
databases, and writes the connection file the settings read. Everything lives under
one runtime folder; ``down()`` stops only processes whose pid files are in it.
"""

from __future__ import annotations

import fcntl
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from daas.errors import StackError
from daas.settings import Settings, stack_env_file
from daas.stack._service import Service, ServiceStatus
from daas.stack.kafka import KafkaServer
from daas.stack.postgres import PostgresServer, cluster_home
from daas.stack.s3proxy import S3ProxyServer

__all__ = ["LocalStack", "ServiceStatus", "StartReport", "RDS_DATABASE", "WAREHOUSE_DATABASE"]

RDS_DATABASE = "daas_rds"
WAREHOUSE_DATABASE = "daas_warehouse"
_PG_USER = "daas"


@dataclass(frozen=True)
class StartReport:
    """What `up` did for one service."""

    name: str
    started: bool
    seconds: float
    endpoint: str


class LocalStack:
    """Kafka (KRaft), S3Proxy and PostgreSQL under ``settings.runtime_dir``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.runtime_dir.resolve()
        creds = self._credentials()
        host = settings.stack_host
        cache = settings.stack_artifact_cache
        self.kafka = KafkaServer(self.root / "kafka", host, settings.stack_kafka_port, artifacts=cache)
        self.s3proxy = S3ProxyServer(
            self.root / "s3proxy", host, settings.stack_s3_port, artifacts=cache,
            access_key=creds["s3_access_key_id"], secret_key=creds["s3_secret_access_key"],
        )
        self.postgres = PostgresServer(
            cluster_home(self.root / "postgres"), host, settings.stack_postgres_port, user=_PG_USER,
            password=creds["postgres_password"], databases=(RDS_DATABASE, WAREHOUSE_DATABASE),
        )
        self._creds = creds

    @property
    def services(self) -> tuple[Service, ...]:
        return (self.kafka, self.s3proxy, self.postgres)

    def service(self, name: str) -> Service:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise StackError(f"no service {name!r}; the stack has {', '.join(s.name for s in self.services)}")

    def _credentials(self) -> dict[str, str]:
        """Credentials generated on first use and kept (mode 600) in the runtime folder."""
        path = self.root / "credentials.json"
        if path.is_file():
            return json.loads(path.read_text())
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        creds = {
            "s3_access_key_id": "daas" + secrets.token_hex(6),
            "s3_secret_access_key": secrets.token_urlsafe(24),
            "postgres_password": secrets.token_urlsafe(18),
            "patient_key_secret": secrets.token_urlsafe(32),
        }
        path.write_text(json.dumps(creds, indent=2))
        path.chmod(0o600)
        return creds

    @contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "stack.lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def up(self, *, timeout: float = 120.0, on_progress=None) -> list[StartReport]:  # noqa: ANN001
        """Start every service that is not running and provision; a no-op when all run."""
        reports = []
        with self._lock():
            for svc in self.services:
                if on_progress:
                    on_progress(f"{svc.name}: starting")
                began = time.monotonic()
                started = svc.start()
                svc.wait_ready(timeout)
                reports.append(StartReport(svc.name, started, time.monotonic() - began, svc.endpoint))
                if on_progress:
                    on_progress(f"{svc.name}: ready ({'started' if started else 'already running'})")
            self._write_env_file()
            self._provision()
        return reports

    def down(self) -> list[str]:
        """Stop the stack's own processes (in reverse start order); return those stopped."""
        with self._lock():
            return [svc.name for svc in reversed(self.services) if svc.stop()]

    def status(self) -> list[ServiceStatus]:
        return [svc.status() for svc in self.services]

    def logs(self, name: str, lines: int = 50) -> str:
        svc = self.service(name)
        log = svc.home / "server.log" if name == "kafka" else svc.log_file
        if not log.is_file():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def env(self) -> dict[str, str]:
        """The settings a stage needs to use this stack, as DAAS_* variables."""
        return {
            "DAAS_KAFKA_BOOTSTRAP_SERVERS": self.kafka.endpoint,
            "DAAS_S3_ENDPOINT_URL": self.s3proxy.endpoint,
            "DAAS_S3_ACCESS_KEY_ID": self._creds["s3_access_key_id"],
            "DAAS_S3_SECRET_ACCESS_KEY": self._creds["s3_secret_access_key"],
            "DAAS_RDS_DSN": self.postgres.dsn(RDS_DATABASE),
            "DAAS_WAREHOUSE_DSN": self.postgres.dsn(WAREHOUSE_DATABASE),
            "DAAS_PATIENT_KEY_SECRET": self._creds["patient_key_secret"],
        }

    def _write_env_file(self) -> None:
        path = stack_env_file(self.root)
        path.write_text("".join(f"{k}={v}\n" for k, v in self.env().items()))
        path.chmod(0o600)

    def _provision(self) -> None:
        from daas.kafka import create_admin, ensure_topics, pipeline_topics

        settings = self.settings.model_copy(update={"kafka_bootstrap_servers": self.kafka.endpoint})
        ensure_topics(create_admin(settings), pipeline_topics(settings.topics, settings.kafka_partitions))
        s3 = self.s3proxy.client()
        if settings.s3_bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
            s3.create_bucket(Bucket=settings.s3_bucket)
