"""Watching stages from outside while they run: topic and store counts, committed offsets, /metrics, RSS.

The suite measures stage processes the way an operator would: records on their
output topics (high watermarks), offsets their consumer group committed, rows in
PostgreSQL, records listed in the S3 sink's committed manifests, the counters a
stage serves on ``/metrics``, and the peak resident set size from ``/proc``.
:class:`Samples` turns a series of counts into a rate that leaves start-up out.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import KafkaException, TopicPartition
from psycopg import sql

from daas.kafka import create_consumer
from daas.settings import Settings
from sinks.destinations.s3 import s3_client
from sinks.lake.layout import MANIFEST_DIR

__all__ = ["CommittedOffsets", "LakeManifests", "Metrics", "PostgresRows", "Samples", "TopicCounts", "cpu_seconds",
           "free_port", "machine_cpu_seconds", "peak_rss_mib"]

_TICKS = os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float | None:
    """The process's peak resident set size so far (VmHWM), or None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used so far, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime: fields 14 and 15 of proc(5)


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, all) CPU seconds of every core since boot, from /proc/stat; idle and iowait are not busy."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / _TICKS, sum(values) / _TICKS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Samples:
    """(time, count) observations of one growing count, and the rate they show."""

    began: float = field(default_factory=time.monotonic)
    points: list[tuple[float, int]] = field(default_factory=list)

    def add(self, count: int, at: float | None = None) -> None:
        self.points.append((time.monotonic() if at is None else at, count))

    @property
    def last(self) -> int:
        return self.points[-1][1] if self.points else 0

    def first_seen(self) -> float | None:
        """Seconds from ``began`` to the first non-zero count."""
        return next((t - self.began for t, c in self.points if c > 0), None)

    def finished(self) -> float | None:
        """Seconds from ``began`` to the first observation of the final count."""
        if not self.points:
            return None
        final = self.last
        return next(t for t, c in self.points if c == final) - self.began

    def rate(self) -> float | None:
        """Records/s from the first observation with any count to the first with the final one;
        what was counted at the first observation is not in the numerator (start-up is left out)."""
        start = next(((t, c) for t, c in self.points if c > 0), None)
        end = self.finished()
        if start is None or end is None or self.last <= start[1]:
            return None
        return (self.last - start[1]) / (end + self.began - start[0])


class TopicCounts:
    """Records in topics now (high minus low watermarks), with one long-lived consumer."""

    def __init__(self, settings: Settings) -> None:
        self._consumer = create_consumer(settings, f"bench-watermarks-{uuid.uuid4().hex[:8]}")
        self._parts: dict[str, list[int]] = {}

    def count(self, *topics: str) -> int:
        return sum(high - low for topic in topics for low, high in self._watermarks(topic).values())

    def ends(self, topic: str) -> dict[int, int]:
        return {p: high for p, (_, high) in self._watermarks(topic).items()}

    def _watermarks(self, topic: str, attempts: int = 50) -> dict[int, tuple[int, int]]:
        # A topic created a moment ago may not have its leaders yet: ask again shortly.
        for attempt in range(attempts):
            try:
                if topic not in self._parts:
                    self._parts[topic] = list(self._consumer.list_topics(topic, timeout=10).topics[topic].partitions)
                return {p: self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
                        for p in self._parts[topic]}
            except KafkaException:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._consumer.close()


class CommittedOffsets:
    """A consumer group's committed offsets, read without joining the group."""

    def __init__(self, settings: Settings, group: str) -> None:
        self._consumer = create_consumer(settings, group)

    def read(self, topic: str, partitions: list[int]) -> dict[int, int]:
        found = self._consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return {tp.partition: tp.offset for tp in found}

    def close(self) -> None:
        self._consumer.close()


class Metrics:
    """A stage's ``/metrics`` (Prometheus text), summed over labels."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/metrics"

    def read(self) -> dict[str, float]:
        try:
            with urllib.request.urlopen(self.url, timeout=2) as response:  # noqa: S310 - loopback, our own stage
                text = response.read().decode()
        except OSError:
            return {}  # not serving yet
        totals: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                metric = name.split("{", 1)[0]
                totals[metric] = totals.get(metric, 0.0) + float(value)
        return totals


class PostgresRows:
    """Rows in the Postgres sink's table (0 until the sink has created it)."""

    def __init__(self, settings: Settings, schema: str, table: str = "encounters") -> None:
        self._conn = psycopg.connect(settings.require("rds_dsn"), autocommit=True)
        self._query = sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))
        self._exists = sql.SQL("select to_regclass({})").format(sql.Literal(f'"{schema}"."{table}"'))

    def count(self) -> int:
        if self._conn.execute(self._exists).fetchone()[0] is None:  # type: ignore[index]
            return 0
        return int(self._conn.execute(self._query).fetchone()[0])  # type: ignore[index]

    def close(self) -> None:
        self._conn.close()


class LakeManifests:
    """Records listed in the committed COPY manifests under an S3 sink's prefix."""

    def __init__(self, settings: Settings, prefix: str) -> None:
        self._s3 = s3_client(settings)
        self._bucket = settings.s3_bucket
        self._prefix = f"{prefix}/{MANIFEST_DIR}/"
        self._counted: dict[str, int] = {}

    def count(self) -> int:
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=self._prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key not in self._counted:
                    body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
                    self._counted[key] = _records_listed(json.loads(body))
        return sum(self._counted.values())


def _records_listed(manifest: dict[str, Any]) -> int:
    return sum(int(entry["meta"]["record_count"]) for entry in manifest["entries"])
