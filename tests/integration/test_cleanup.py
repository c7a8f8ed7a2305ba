"""The shared fixtures clean up: what a test makes from its unique names is gone after it."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import sql

from daas.kafka import TopicSpec, create_admin, create_consumer, ensure_topics
from tests.support.cleanup import REPO, delete_test_resources, leftovers
from tests.support.endpoints import Endpoints
from warehouse.clients import s3_client


def test_everything_named_after_a_test_is_deleted(endpoints: Endpoints, unique_name: Callable[[str], str]) -> None:
    name = unique_name("clean")
    other = unique_name("other")  # a second name of the same test
    settings = endpoints.settings()
    ensure_topics(create_admin(settings), [TopicSpec(name, 1), TopicSpec(f"{name}.health.clean.ops.v1", 3),
                                           TopicSpec(f"{other}-surv-districts-changelog", 1)])
    consumer = create_consumer(settings, f"{name}-group")
    consumer.subscribe([name])
    consumer.consume(1, timeout=5)
    consumer.close()
    for dsn, schema in ((endpoints.rds_dsn, name.replace("-", "_")),
                        (endpoints.warehouse_dsn, name.replace("-", "_")[:56] + "_a")):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("create table {}.t (x int)").format(sql.Identifier(schema)))
    s3 = s3_client(settings)
    if settings.s3_bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=settings.s3_bucket)
    s3.put_object(Bucket=settings.s3_bucket, Key=f"{name}/x.parquet", Body=b"x")
    (REPO / ".runtime" / "tests" / name).mkdir(parents=True)
    assert len(leftovers(endpoints, [name, other])) >= 7  # S3Proxy may list the folder key too

    delete_test_resources(endpoints, [name, other])

    assert leftovers(endpoints, [name, other]) == []
    groups = [g.group_id for g in create_admin(settings).list_consumer_groups().result().valid]
    assert f"{name}-group" not in groups
