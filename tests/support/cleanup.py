"""Delete what a test made on the shared stack, by the unique name it was given.

Every name a test gets from the ``unique_name`` fixture (``t-<what>-<test>-<token>``)
is unique to that test, and everything the shared fixtures make is named from it:
topics (``<name>`` and ``<name>.health.clean.ops.v1`` of a pipeline ``Run``, Faust's
``<name>-surv-…-changelog``), consumer groups, PostgreSQL schemas (the name with ``_``
for ``-``, possibly cut to 56 characters, plus a suffix), S3 keys under ``<name>`` and
a ``Run``'s runtime folder. So cleanup is by prefix: whatever starts with a name handed
out to the test is the test's, and nothing else can start with it.

``tests/conftest.py`` calls :func:`delete_test_resources` after each test that used
``unique_name`` and :func:`leftovers` at the end of the session, which fails the
session if anything a test made is still there.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

from tests.support.endpoints import Endpoints

__all__ = ["delete_test_resources", "leftovers", "runtime_logs"]

REPO = Path(__file__).resolve().parents[2]
_SCHEMA_PREFIX_CHARS = 56  # the warehouse fixtures cut schema bases to 56 characters


def _schema_prefix(name: str) -> str:
    return name.replace("-", "_")[:_SCHEMA_PREFIX_CHARS]


def _owned(value: str, names: Collection[str]) -> bool:
    return any(value.startswith(n) for n in names)


def _topics(endpoints: Endpoints, names: Collection[str]) -> list[str]:
    from daas.kafka import create_admin  # the Airflow environment has no confluent-kafka

    return sorted(t for t in create_admin(endpoints.settings()).list_topics(timeout=30).topics if _owned(t, names))


def _schemas(dsn: str, names: Collection[str]) -> list[str]:
    import psycopg

    prefixes = [_schema_prefix(n) for n in names]
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        rows = conn.execute("select nspname from pg_namespace where nspname like 't\\_%'").fetchall()
    return sorted(s for (s,) in rows if _owned(s, prefixes))


def _s3_keys(endpoints: Endpoints, names: Collection[str]) -> list[tuple[str, str]]:
    """Objects under the names; S3Proxy's filesystem store also lists its folders as
    ``.../`` keys, which hold nothing and go with their last object: skipped."""
    s3 = _s3(endpoints)
    out = []
    for bucket in (b["Name"] for b in s3.list_buckets()["Buckets"]):
        for name in names:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=name):
                out += [(bucket, obj["Key"]) for obj in page.get("Contents", []) if not obj["Key"].endswith("/")]
    return out


def _s3(endpoints: Endpoints) -> Any:
    from warehouse.clients import s3_client  # the sink's client: the checksum settings S3Proxy accepts

    return s3_client(endpoints.settings())


def _runtime_dirs(names: Collection[str]) -> list[Path]:
    root = REPO / ".runtime" / "tests"
    return sorted(p for p in root.iterdir() if _owned(p.name, names)) if root.is_dir() else []


def delete_test_resources(endpoints: Endpoints, names: Collection[str], *, timeout: float = 30.0,
                          keep_files: bool = False) -> None:
    """Delete the topics, consumer groups, schemas, S3 keys and (unless ``keep_files``: the
    logs of a failed test) runtime folders of ``names``."""
    if not names:
        return
    _delete_kafka(endpoints, names, timeout)
    import psycopg
    from psycopg import sql

    for dsn in (endpoints.rds_dsn, endpoints.warehouse_dsn):
        schemas = _schemas(dsn, names)
        if schemas:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
                for schema in schemas:
                    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
    keys = _s3_keys(endpoints, names)
    if keys:
        s3 = _s3(endpoints)
        for bucket, key in keys:
            s3.delete_object(Bucket=bucket, Key=key)
    for folder in [] if keep_files else _runtime_dirs(names):
        shutil.rmtree(folder, ignore_errors=True)


def _delete_kafka(endpoints: Endpoints, names: Collection[str], timeout: float) -> None:
    try:
        from confluent_kafka import KafkaException

        from daas.kafka import create_admin
    except ImportError:  # the Airflow environment: its tests make no topics
        return
    admin = create_admin(endpoints.settings())
    groups = [g.group_id for g in admin.list_consumer_groups(request_timeout=timeout).result().valid
              if _owned(g.group_id, names)]
    if groups:
        for future in admin.delete_consumer_groups(groups, request_timeout=timeout).values():
            try:
                future.result()
            except KafkaException:
                pass  # still has members (a process the test left running): the topic goes anyway
    topics = _topics(endpoints, names)
    if not topics:
        return
    for future in admin.delete_topics(topics, operation_timeout=timeout).values():
        try:
            future.result()
        except KafkaException as exc:
            if "UNKNOWN_TOPIC" not in str(exc):
                raise
    deadline = time.monotonic() + timeout
    while _topics(endpoints, names) and time.monotonic() < deadline:
        time.sleep(0.2)


def leftovers(endpoints: Endpoints, names: Collection[str], *, kept: Collection[str] = ()) -> list[str]:
    """What still exists of ``names``: topics, schemas, S3 keys, runtime folders (but not
    those of the ``kept`` names: the logs of failed tests)."""
    if not names:
        return []
    out: list[str] = []
    try:
        out += [f"topic {t}" for t in _topics(endpoints, names)]
    except ImportError:
        pass
    for dsn in (endpoints.rds_dsn, endpoints.warehouse_dsn):
        out += [f"schema {s}" for s in _schemas(dsn, names)]
    out += [f"s3://{b}/{k}" for b, k in _s3_keys(endpoints, names)]
    out += [f"folder {p}" for p in _runtime_dirs([n for n in names if n not in kept])]
    return out


def runtime_logs(names: Collection[str], lines: int = 40) -> list[tuple[Path, str]]:
    """The last ``lines`` lines of every log in the runtime folders of ``names``."""
    found = []
    for folder in _runtime_dirs(names):
        for log in sorted(folder.rglob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            found.append((log, "\n".join(text)))
    return found
