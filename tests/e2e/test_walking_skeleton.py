"""End to end through the real services: producer → processor → both sinks → warehouse.

A known set of SimuHealth encounters plus invalid and undecodable records goes in;
at every stage the counts must be exact: produced = clean + dead-lettered, and each
clean record appears exactly once in the Parquet read back from S3, in Postgres and
in the warehouse.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pyarrow.parquet as pq
import pytest

from daas.kafka import count_records
from daas.kafka import create_admin, ensure_topics, pipeline_topics
from daas.settings import Topics
from producers.kafka_producer import RecordProducer
from producers.simuhealth import SimuHealthGenerator
from schemas import SIMUHEALTH_ENCOUNTER
from sinks.s3_parquet import s3_client
from tests.support.pipeline_run import Worker, read_topic
from tests.support.sinks import run_sinks_until_idle
from warehouse.loader import load_new_manifests
from warehouse.replicator import replicate_encounters

N_VALID_TARGET = 1200


@pytest.fixture
def pipeline(endpoints, unique_name):  # noqa: ANN001, ANN201
    run = unique_name("e2e")
    topics = Topics(**{name: f"{run}.{default}" for name, default in Topics().model_dump().items()})
    settings = endpoints.settings(topics=topics, s3_prefix=run, s3_bucket="daas-lake",
                                  routes={"simuhealth": ["lake", "ops"], "gsheet": ["lake"]},
                                  runtime_dir=f".runtime/tests/{run}", processor_app_id=run)
    ensure_topics(create_admin(settings), pipeline_topics(topics, 3))
    s3 = s3_client(settings)
    if "daas-lake" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="daas-lake")
    schema = run.replace("-", "_")
    return settings, run, schema


def test_every_record_is_accounted_for_at_every_stage(pipeline, endpoints) -> None:  # noqa: ANN001
    settings, run, schema = pipeline
    topics = settings.topics
    end = datetime.now(tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    producer = RecordProducer(settings, topic=topics.raw_simuhealth, schema_name=SIMUHEALTH_ENCOUNTER,
                              source="simuhealth")
    valid_ids: set[str] = set()
    invalid = Counter()
    by_region: Counter[tuple[str, str]] = Counter()
    for n, record in enumerate(SimuHealthGenerator(7, start=end - timedelta(weeks=6), end=end).generate(N_VALID_TARGET)):
        if n % 50 == 7:
            record["diagnosis"]["icd10_code"] = "ZZ9.9"
            invalid["icd10_unknown"] += 1
        elif n % 50 == 19:
            record["patient"]["sex"] = "X"
            invalid["sex_not_allowed"] += 1
        else:
            valid_ids.add(record["encounter_id"])
            by_region[(record["country_code"], record["region"])] += 1
        producer.produce(record["encounter_id"], record)
    for n in range(9):
        producer.produce_raw(f"junk-{n}".encode(), b"\x01not avro at all" * (n + 1))
        invalid["decode_error"] += 1
    # A re-sent record (same encounter id) must not become a second clean row downstream.
    producer.close()
    produced = producer.sent

    env = {**endpoints.env(), "DAAS_RUNTIME_DIR": str(settings.runtime_dir), "PATH": "/usr/bin:/bin",
           "DAAS_ROUTES": json.dumps(settings.routes), "DAAS_PROCESSOR_APP_ID": run,
           **{f"DAAS_TOPIC_{k.upper()}": v for k, v in topics.model_dump().items()}}
    worker = Worker(env, settings.runtime_dir / "processor.log")
    try:
        import time

        deadline = time.monotonic() + 240
        while count_records(settings, topics.clean_ops) + count_records(settings, topics.dlq) < produced:
            worker.assert_alive()
            assert time.monotonic() < deadline, "processor did not catch up in 240 s"
            time.sleep(0.5)
    finally:
        worker.stop()

    # Stage 1: produced = clean + dead-lettered, with the right reasons.
    dead = read_topic(settings, topics.dlq)
    clean_ops = read_topic(settings, topics.clean_ops)
    clean_lake = read_topic(settings, topics.clean_lake)
    reasons = Counter(dict(m.headers())["dlq.reason"].decode() for m in dead)
    assert reasons == invalid
    assert len(clean_ops) + len(dead) == produced
    assert len({m.key() for m in clean_ops}) == len(valid_ids) == len(clean_lake)

    # Stage 2: both sinks.
    rds_schema = schema
    runners = run_sinks_until_idle(settings, s3_group=f"{run}-s3", postgres_group=f"{run}-pg",
                                   postgres_schema=rds_schema, timeout=120)
    assert [r.stats.written for r in runners] == [len(valid_ids), len(valid_ids)]

    s3 = s3_client(settings)
    keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket="daas-lake", Prefix=run + "/")
            for o in p.get("Contents", []) if o["Key"].endswith(".parquet")]
    parquet_ids = []
    for key in keys:
        table = pq.read_table(io.BytesIO(s3.get_object(Bucket="daas-lake", Key=key)["Body"].read()))
        parquet_ids += table.column("source_key").to_pylist()
    assert sorted(parquet_ids) == sorted(valid_ids)

    with psycopg.connect(settings.require("rds_dsn"), autocommit=True) as rds:
        pg_ids = [r[0] for r in rds.execute(f'select source_key from "{rds_schema}".encounters')]
    assert sorted(pg_ids) == sorted(valid_ids)

    # Stage 3: the warehouse, from the lake (manifests) and from RDS (replicator).
    with psycopg.connect(settings.require("warehouse_dsn"), autocommit=True) as wh:
        wh.execute("drop schema if exists lake cascade")
        wh.execute("drop schema if exists rds cascade")
        first = load_new_manifests(settings, s3=s3, conn=wh)
        again = load_new_manifests(settings, s3=s3, conn=wh)
        assert (first.rows_merged, again.manifests_loaded) == (len(valid_ids), 0)
        with psycopg.connect(settings.require("rds_dsn"), autocommit=True) as rds:
            rds.execute(f'set search_path to "{rds_schema}"')
            assert replicate_encounters(rds, wh) == len(valid_ids)
        lake = dict(((c, r), n) for c, r, n in wh.execute(
            "select country_code, region, count(*) from lake.encounters group by 1, 2"))
        ops = dict(((c, r), n) for c, r, n in wh.execute(
            "select country_code, region, count(*) from rds.encounters group by 1, 2"))
    assert lake == ops == dict(by_region)
