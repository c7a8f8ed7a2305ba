"""The demo: the whole pipeline on the local stack, from SimuHealth to the warehouse.

Called by `daas demo` (the README's first command). It starts the stack, resets the
pipeline's local state, produces a seeded SimuHealth stream with some deliberately
bad records, runs the Faust processor, both sinks, the warehouse load and the
replicator, and prints encounters per region next to what was produced.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from daas.errors import ConfigurationError, DaasError
from daas.kafka import count_records, create_admin, ensure_topics, pipeline_topics
from daas.settings import Settings

__all__ = ["DemoResult", "reset_local_pipeline", "run_demo", "run_processor", "run_sinks_until_idle"]

DEMO_ROUTES = {"simuhealth": ["lake", "ops"], "gsheet": ["lake"]}


@dataclass(frozen=True)
class DemoResult:
    produced: int
    invalid: int
    clean: int
    dead_lettered: int
    expected_by_region: dict[tuple[str, str], int]
    lake_by_region: dict[tuple[str, str], int]
    rds_by_region: dict[tuple[str, str], int]


def run_sinks_until_idle(settings: Settings, *, s3_group: str, postgres_group: str,
                         postgres_schema: str = "public", idle: float = 3.0,
                         timeout: float | None = None) -> list[Any]:
    """Run the S3 sink (lake topic) and the Postgres sink (ops topic) side by side until
    both have been idle for ``idle`` seconds (waiting at most ``timeout`` for each);
    return their runners, for their stats."""
    from sinks.base import SinkRunner
    from sinks.postgres import PostgresSink
    from sinks.s3_parquet import S3ParquetSink

    runners = [SinkRunner(settings, S3ParquetSink(settings), topic=settings.topics.clean_lake, group_id=s3_group),
               SinkRunner(settings, PostgresSink(settings, schema=postgres_schema),
                          topic=settings.topics.clean_ops, group_id=postgres_group)]
    threads = [threading.Thread(target=r.run, kwargs={"stop_when_idle": idle}) for r in runners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return runners


def reset_local_pipeline(settings: Settings) -> None:
    """Delete the pipeline's topics, lake objects and tables — local stack only."""
    if not settings.local_mode or not settings.kafka_bootstrap_servers.startswith(("127.", "localhost")):
        raise ConfigurationError("refusing to reset a pipeline that is not the local stack "
                                 "(DAAS_LOCAL_MODE is false or Kafka is not on loopback)")
    import psycopg

    from sinks.s3_parquet import s3_client

    admin = create_admin(settings)
    names = [spec.name for spec in pipeline_topics(settings.topics, settings.kafka_partitions)]
    internal = f"{settings.processor_app_id}-"  # the processor's table changelogs
    existing = [n for n in admin.list_topics(timeout=10).topics if n in names or n.startswith(internal)]
    for future in admin.delete_topics(existing, operation_timeout=30).values():
        future.result()
    deadline = time.monotonic() + 30
    while any(n in admin.list_topics(timeout=10).topics for n in existing) and time.monotonic() < deadline:
        time.sleep(0.2)
    ensure_topics(admin, pipeline_topics(settings.topics, settings.kafka_partitions))
    s3 = s3_client(settings)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.s3_bucket, Prefix=settings.s3_prefix + "/"):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith("/"):  # S3Proxy lists its folders as keys
                s3.delete_object(Bucket=settings.s3_bucket, Key=obj["Key"])
    with psycopg.connect(settings.require("rds_dsn"), autocommit=True) as conn:
        conn.execute("drop table if exists public.encounters")
    with psycopg.connect(settings.require("warehouse_dsn"), autocommit=True) as conn:
        conn.execute("drop schema if exists published, analytics, lake, rds cascade")
    shutil.rmtree(settings.runtime_dir / "faust", ignore_errors=True)


def run_processor(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start one Faust processor worker as a child process with ``env``."""
    return subprocess.Popen([sys.executable, "-m", "stream_processors"], env=env,  # noqa: S603
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait(what: str, done: Callable[[], bool], timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if proc is not None and proc.poll() is not None:
            output = proc.stdout.read().decode(errors="replace")[-3000:] if proc.stdout else ""
            raise DaasError(f"processor exited with {proc.returncode} while waiting for {what}:\n{output}")
        if time.monotonic() > deadline:
            raise DaasError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.5)


def run_demo(settings: Settings, *, records: int, seed: int, progress: Callable[[str], None]) -> DemoResult:
    """Run every stage once over a seeded stream; return counts at each stage."""
    import psycopg

    from producers.kafka_producer import RecordProducer
    from producers.simuhealth import SimuHealthGenerator
    from schemas import SIMUHEALTH_ENCOUNTER
    from sinks.s3_parquet import s3_client
    from warehouse.analytics import publish_analytics
    from warehouse.loader import load_new_manifests
    from warehouse.postgres import PostgresWarehouse
    from warehouse.replicator import replicate_encounters

    settings = settings.model_copy(update={"routes": DEMO_ROUTES})
    topics = settings.topics
    progress("resetting the local pipeline (topics, lake, tables)")
    reset_local_pipeline(settings)

    end = datetime.now(tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    generator = SimuHealthGenerator(seed, start=end - timedelta(weeks=8), end=end)
    producer = RecordProducer(settings, topic=topics.raw_simuhealth, schema_name=SIMUHEALTH_ENCOUNTER,
                              source="simuhealth")
    expected: Counter[tuple[str, str]] = Counter()
    invalid = 0
    progress(f"producing {records} SimuHealth encounters (seed {seed}), about 2 % deliberately invalid")
    for n, record in enumerate(generator.generate(records)):
        if n % 97 == 13:  # an ICD-10 code nobody ships
            record["diagnosis"]["icd10_code"] = "ZZ9.9"
            invalid += 1
        elif n % 97 == 41:  # seen next year
            record["encounter_time"] = datetime.now(tz=UTC) + timedelta(days=400)
            invalid += 1
        else:
            expected[(record["country_code"], record["region"])] += 1
        producer.produce(record["encounter_id"], record)
    for n in range(max(1, records // 500)):
        producer.produce_raw(f"garbage-{n}".encode(), b"this is not Avro")
        invalid += 1
    producer.close()
    produced = producer.sent

    progress("running the Faust processor until every record is clean or dead-lettered")
    env = {**os.environ, **_settings_env(settings), "DAAS_ROUTES": json.dumps(DEMO_ROUTES)}
    proc = run_processor(env)
    try:
        _wait("the processor", lambda: count_records(settings, topics.clean_ops)
              + count_records(settings, topics.dlq) >= produced, timeout=300, proc=proc)
        _wait("the lake route", lambda: count_records(settings, topics.clean_lake)
              >= count_records(settings, topics.clean_ops), timeout=60, proc=proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    clean, dead = count_records(settings, topics.clean_ops), count_records(settings, topics.dlq)

    progress("running the S3 Parquet sink and the Postgres sink until they are idle")
    run_sinks_until_idle(settings, s3_group="daas-s3-sink", postgres_group="daas-postgres-sink")

    progress("loading the warehouse from the lake manifests and replicating RDS")
    with psycopg.connect(settings.require("warehouse_dsn"), autocommit=True) as wh:
        load_new_manifests(settings, s3=s3_client(settings), conn=wh)
        with psycopg.connect(settings.require("rds_dsn"), autocommit=True) as rds:
            replicate_encounters(rds, wh)
        publish_analytics(PostgresWarehouse(wh))
        lake = {(c, r): n for c, r, n in wh.execute(
            "select country_code, region, count(*) from lake.encounters group by 1, 2")}
        ops = {(c, r): n for c, r, n in wh.execute(
            "select country_code, region, count(*) from rds.encounters group by 1, 2")}
    return DemoResult(produced, invalid, clean, dead, dict(expected), lake, ops)


def _settings_env(settings: Settings) -> dict[str, str]:
    env = {"DAAS_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
           "DAAS_RUNTIME_DIR": str(settings.runtime_dir)}
    secret = settings.patient_key_secret
    if secret is not None:
        env["DAAS_PATIENT_KEY_SECRET"] = secret.get_secret_value()
    return env
