"""One benchmark run's private corner of Kafka, S3 and PostgreSQL, and how it is cleaned up.

Every name a run creates starts with its id (``bench-1a2b3c4d``): topics, consumer
groups, the processor's changelogs and Faust's internal topics (their names start
with the app ids), the S3 prefixes ``bench/<id>/`` (and ``bench_<id>_*`` for the
Quix sink, whose directory names allow no ``/``) and the Postgres schemas
``bench_1a2b3c4d_*``. A measurement gets a :class:`Slice` of the run with its own
topics; slices may share one raw topic, so the same pre-filled records feed every
stage. ``BenchRun.cleanup`` deletes all of it, whatever a measurement left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from confluent_kafka import KafkaError, KafkaException
from psycopg import sql

from daas.kafka import create_admin, ensure_topics, pipeline_topics
from daas.settings import Settings, Topics
from sinks.destinations.s3 import s3_client

__all__ = ["REPO", "BenchRun", "Slice", "endpoint_env"]

REPO = Path(__file__).resolve().parents[1]
_ENDPOINTS = ("kafka_bootstrap_servers", "s3_endpoint_url", "s3_access_key_id", "s3_secret_access_key", "rds_dsn",
              "warehouse_dsn", "patient_key_secret")


def endpoint_env(settings: Settings) -> dict[str, str]:
    """The environment a stage process needs to reach the same servers as ``settings``:
    the inherited environment without any ``DAAS_*`` variable, plus the endpoints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAAS_")}
    for name in _ENDPOINTS:
        value = getattr(settings, name)
        if value is not None:
            env[f"DAAS_{name.upper()}"] = settings.require(name)
    return env


@dataclass
class BenchRun:
    """The run: its id, the settings and environment every slice starts from, what to clean."""

    settings: Settings
    base_env: dict[str, str]
    partitions: int = 4
    id: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:8]}")
    schemas: list[str] = field(default_factory=list)

    @property
    def runtime_dir(self) -> Path:
        return REPO / ".runtime" / "bench" / self.id

    @property
    def s3_root(self) -> str:
        return f"bench/{self.id}"

    @property
    def peer_s3_root(self) -> str:
        """Where the Quix S3 sink writes: its directory allows no '/' or '-'."""
        return f"bench_{self.id.replace('-', '_')}"

    def slice(self, label: str, *, raw_topic: str | None = None,
              routes: dict[str, list[str]] | None = None) -> Slice:
        """A measurement's own topics (created now), reading ``raw_topic`` when given."""
        names = {k: f"{self.id}-{label}.{v}" for k, v in Topics().model_dump().items()}
        if raw_topic is not None:
            names["raw_simuhealth"] = raw_topic
        piece = Slice(self, label, Topics(**names), routes or {"simuhealth": ["lake", "ops"], "gsheet": ["lake"]})
        ensure_topics(create_admin(piece.settings), pipeline_topics(piece.topics, self.partitions))
        self.schemas.append(piece.pg_schema)
        return piece

    def cleanup(self, *, keep_logs: bool = False) -> list[str]:
        """Delete every topic, group, object, schema and file of this run (but the stage logs when
        ``keep_logs``); return what failed."""
        problems: list[str] = []
        for step in (self._delete_topics, self._delete_groups, self._delete_objects, self._drop_schemas):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - clean up as much as possible, then report
                problems.append(f"{step.__name__.lstrip('_')}: {exc}")
        shutil.rmtree(self.runtime_dir / "faust" if keep_logs else self.runtime_dir, ignore_errors=True)
        return problems

    def _delete_topics(self) -> None:
        admin = create_admin(self.settings)  # referenced until its futures resolve
        names = [t for t in admin.list_topics(timeout=30).topics if self.id in t]
        if names:
            for future in admin.delete_topics(names, operation_timeout=60).values():
                future.result(timeout=90)

    def _delete_groups(self, attempts: int = 10) -> None:
        # A worker killed with SIGKILL stays a member until its session times out: a
        # group is deleted once it is empty, so try again for a while. The broker's own
        # sweep removes empty groups without committed offsets (every
        # offsets.retention.check.interval.ms), so one listed a moment ago may be gone
        # (GROUP_ID_NOT_FOUND): that is done too.
        admin = create_admin(self.settings)
        listed = admin.list_consumer_groups(request_timeout=30).result(timeout=60)
        groups = [g.group_id for g in listed.valid if g.group_id.startswith(self.id)]
        for _ in range(attempts):
            if not groups:
                return
            futures = admin.delete_consumer_groups(groups, request_timeout=30)
            busy = []
            for group, future in futures.items():
                try:
                    future.result(timeout=60)
                except KafkaException as exc:
                    code = exc.args[0].code()
                    if code == KafkaError.NON_EMPTY_GROUP:
                        busy.append(group)
                    elif code != KafkaError.GROUP_ID_NOT_FOUND:
                        raise
            groups = busy
            if groups:
                time.sleep(2)
        raise RuntimeError(f"consumer groups still not empty: {groups}")

    def _delete_objects(self) -> None:
        # One DELETE per key: S3Proxy answers the bulk DeleteObjects with 501 (boto3 sends
        # a checksum header it does not implement). Its filesystem backend lists folders
        # as "…/" keys; they go with their last object, and deleting one that still has
        # objects stalls for seconds, so only objects are deleted.
        s3 = s3_client(self.settings)
        bucket = self.settings.s3_bucket
        pages = s3.get_paginator("list_objects_v2")
        keys = [o["Key"] for prefix in (f"{self.s3_root}/", f"{self.peer_s3_root}_")
                for page in pages.paginate(Bucket=bucket, Prefix=prefix) for o in page.get("Contents", [])
                if not o["Key"].endswith("/")]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda key: s3.delete_object(Bucket=bucket, Key=key), keys))

    def _drop_schemas(self) -> None:
        with psycopg.connect(self.settings.require("rds_dsn"), autocommit=True) as conn:
            for schema in self.schemas:
                conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))


@dataclass
class Slice:
    """One measurement's topics, consumer groups, S3 prefix and Postgres schema."""

    run: BenchRun
    label: str
    topics: Topics
    routes: dict[str, list[str]]

    def name(self, what: str) -> str:
        return f"{self.run.id}-{self.label}-{what}"

    @property
    def processor_app_id(self) -> str:
        return self.name("processor")

    @property
    def surveillance_app_id(self) -> str:
        return self.name("surveillance")

    @property
    def s3_prefix(self) -> str:
        return f"{self.run.s3_root}/{self.label}"

    @property
    def pg_schema(self) -> str:
        return f"{self.run.id}_{self.label}".replace("-", "_")

    @property
    def settings(self) -> Settings:
        return self.run.settings.model_copy(update={
            "topics": self.topics, "routes": self.routes, "kafka_partitions": self.run.partitions,
            "processor_app_id": self.processor_app_id, "surveillance_app_id": self.surveillance_app_id,
            "s3_prefix": self.s3_prefix, "runtime_dir": self.run.runtime_dir})

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a stage process of this slice (``extra``: more DAAS_* values)."""
        return {**self.run.base_env, "DAAS_RUNTIME_DIR": str(self.run.runtime_dir),
                "DAAS_KAFKA_PARTITIONS": str(self.run.partitions), "DAAS_ROUTES": json.dumps(self.routes),
                "DAAS_PROCESSOR_APP_ID": self.processor_app_id, "DAAS_SURVEILLANCE_APP_ID": self.surveillance_app_id,
                "DAAS_S3_PREFIX": self.s3_prefix,
                **{f"DAAS_TOPIC_{k.upper()}": v for k, v in self.topics.model_dump().items()}, **extra}
