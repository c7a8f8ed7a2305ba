"""Real service endpoints for tests, from the first source that has them.

1. The environment: DAAS_KAFKA_BOOTSTRAP_SERVERS, DAAS_S3_ENDPOINT_URL (with
   DAAS_S3_ACCESS_KEY_ID / DAAS_S3_SECRET_ACCESS_KEY), DAAS_RDS_DSN and
   DAAS_WAREHOUSE_DSN all exported: use those servers as they are.
2. A reachable Docker engine: testcontainers (Kafka, MinIO, PostgreSQL), pinned images.
3. Otherwise the project's local stack (`daas stack up`).

There is no skip path: a source that cannot deliver raises, and the tests that need
it fail. That is the point in CI, where a missing service is a failure.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from daas.settings import Settings, load_settings

__all__ = ["Endpoints", "provide_endpoints"]

# Confluent Platform 7.9 ships Apache Kafka 3.9, the local stack's line. testcontainers'
# KafkaContainer runs KRaft only on Confluent images (its start script needs their
# layout, and with_kraft() refuses apache/kafka tags), so this is the supported pair.
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.1"
MINIO_IMAGE = "minio/minio:RELEASE.2025-04-22T22-12-26Z"
POSTGRES_IMAGE = "postgres:15.10-alpine"

# One broker, configured like the local stack's (daas/stack/kafka.py): internal topics
# with one replica, so transactions (exactly-once) work, and no auto-created topics.
KAFKA_SINGLE_BROKER = {
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
    "KAFKA_DEFAULT_REPLICATION_FACTOR": "1",
    "KAFKA_MIN_INSYNC_REPLICAS": "1",
    "KAFKA_NUM_PARTITIONS": "3",
    "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
}

_ENV_KEYS = ("DAAS_KAFKA_BOOTSTRAP_SERVERS", "DAAS_S3_ENDPOINT_URL", "DAAS_RDS_DSN", "DAAS_WAREHOUSE_DSN")


@dataclass(frozen=True)
class Endpoints:
    """Where the test session's Kafka, S3 and PostgreSQL servers are."""

    origin: str
    kafka_bootstrap_servers: str
    s3_endpoint_url: str
    s3_access_key_id: str
    s3_secret_access_key: str
    rds_dsn: str
    warehouse_dsn: str
    extra: dict[str, str] = field(default_factory=dict)

    def settings(self, **overrides: object) -> Settings:
        """Settings pointing every stage at these endpoints."""
        values: dict[str, object] = {
            "kafka_bootstrap_servers": self.kafka_bootstrap_servers,
            "s3_endpoint_url": self.s3_endpoint_url,
            "s3_access_key_id": self.s3_access_key_id,
            "s3_secret_access_key": self.s3_secret_access_key,
            "rds_dsn": self.rds_dsn,
            "warehouse_dsn": self.warehouse_dsn,
            "patient_key_secret": "test-patient-key-secret-not-for-production",
        }
        values.update(overrides)
        return load_settings(**values)

    def env(self) -> dict[str, str]:
        """The same endpoints as DAAS_* variables, for stages run as subprocesses."""
        s = self.settings()
        return {
            "DAAS_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "DAAS_S3_ENDPOINT_URL": self.s3_endpoint_url,
            "DAAS_S3_ACCESS_KEY_ID": self.s3_access_key_id,
            "DAAS_S3_SECRET_ACCESS_KEY": self.s3_secret_access_key,
            "DAAS_RDS_DSN": self.rds_dsn,
            "DAAS_WAREHOUSE_DSN": self.warehouse_dsn,
            "DAAS_PATIENT_KEY_SECRET": s.require("patient_key_secret"),
        }


def _from_environment(env: dict[str, str]) -> Endpoints | None:
    if not all(env.get(k) for k in _ENV_KEYS):
        return None
    return Endpoints(
        "environment", env["DAAS_KAFKA_BOOTSTRAP_SERVERS"], env["DAAS_S3_ENDPOINT_URL"],
        env.get("DAAS_S3_ACCESS_KEY_ID", ""), env.get("DAAS_S3_SECRET_ACCESS_KEY", ""),
        env["DAAS_RDS_DSN"], env["DAAS_WAREHOUSE_DSN"],
    )


def _docker_reachable() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - any failure means: no engine to use
        return False


def _containers(password: str) -> tuple[Any, Any, Any]:
    """Kafka (one KRaft broker), MinIO and PostgreSQL as testcontainers, configured, not started."""
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.minio import MinioContainer
    from testcontainers.community.postgres import PostgresContainer

    kafka = KafkaContainer(KAFKA_IMAGE).with_kraft()
    for key, value in KAFKA_SINGLE_BROKER.items():
        kafka.with_env(key, value)
    minio = MinioContainer(MINIO_IMAGE, access_key="daas-test", secret_key=password)
    postgres = PostgresContainer(POSTGRES_IMAGE, username="daas", password=password, dbname="daas_rds", driver=None)
    return kafka, minio, postgres


@contextlib.contextmanager
def _from_testcontainers() -> Iterator[Endpoints]:
    import secrets

    import psycopg

    password = secrets.token_urlsafe(16)
    kafka_container, minio_container, pg_container = _containers(password)
    with kafka_container as kafka, minio_container as minio, pg_container as pg:
        rds = pg.get_connection_url()
        with psycopg.connect(rds, autocommit=True) as conn:
            conn.execute("create database daas_warehouse")
        cfg = minio.get_config()
        yield Endpoints(
            "testcontainers", kafka.get_bootstrap_server(), f"http://{cfg['endpoint']}",
            cfg["access_key"], cfg["secret_key"], rds, rds.rsplit("/", 1)[0] + "/daas_warehouse",
        )


@contextlib.contextmanager
def _from_local_stack() -> Iterator[Endpoints]:
    from daas.stack import LocalStack

    stack = LocalStack(load_settings())
    was_running = all(s.pid is not None for s in stack.status())
    stack.up()
    env = stack.env()
    try:
        yield Endpoints(
            "local-stack", env["DAAS_KAFKA_BOOTSTRAP_SERVERS"], env["DAAS_S3_ENDPOINT_URL"],
            env["DAAS_S3_ACCESS_KEY_ID"], env["DAAS_S3_SECRET_ACCESS_KEY"],
            env["DAAS_RDS_DSN"], env["DAAS_WAREHOUSE_DSN"],
        )
    finally:
        if not was_running and not os.environ.get("DAAS_TEST_KEEP_STACK"):
            stack.down()


@contextlib.contextmanager
def provide_endpoints() -> Iterator[Endpoints]:
    """The session's endpoints; raises (never skips) when no source can start them."""
    from_env = _from_environment(dict(os.environ))
    if from_env is not None:
        yield from_env
    elif _docker_reachable():
        with _from_testcontainers() as endpoints:
            yield endpoints
    else:
        with _from_local_stack() as endpoints:
            yield endpoints
