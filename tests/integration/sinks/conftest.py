"""Per-test topics, lake prefix and Postgres schema for the sink tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from daas.settings import Settings, Topics
from sinks.s3_parquet import s3_client
from tests.integration.sinks.support import BUCKET, create_topic, sink_env
from tests.support.endpoints import Endpoints

PARTITIONS = 3


@dataclass(frozen=True)
class SinkRun:
    """Names no other test uses, settings that point at them, and env for subprocesses."""

    name: str
    settings: Settings
    env: dict[str, str]
    pg_schema: str
    log_dir: Path

    @property
    def topics(self) -> Topics:
        return self.settings.topics


def make_run(endpoints: Endpoints, name: str, log_dir: Path) -> SinkRun:
    topics = Topics(clean_lake=f"{name}.lake", clean_ops=f"{name}.ops", dlq=f"{name}.dlq")
    settings = endpoints.settings(topics=topics, s3_prefix=name, s3_bucket=BUCKET)
    for topic in (topics.clean_lake, topics.clean_ops, topics.dlq):
        create_topic(settings, topic, PARTITIONS)
    s3 = s3_client(settings)
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    env = sink_env(endpoints.env(), clean_lake=topics.clean_lake, clean_ops=topics.clean_ops, dlq=topics.dlq)
    env["DAAS_S3_PREFIX"] = name
    return SinkRun(name, settings, env, name.replace("-", "_"), log_dir)


@pytest.fixture
def sink_run(endpoints: Endpoints, unique_name: Callable[[str], str], tmp_path: Path) -> Iterator[SinkRun]:
    run = make_run(endpoints, unique_name("sink"), tmp_path)
    yield run
    with psycopg.connect(run.settings.require("rds_dsn"), autocommit=True) as conn:
        conn.execute(f'drop schema if exists "{run.pg_schema}" cascade')
