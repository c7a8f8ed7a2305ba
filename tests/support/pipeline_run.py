"""Helpers for tests that run pipeline stages as real processes against real Kafka."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Message, TopicPartition

from daas.child import ChildProcess
from daas.kafka import count_records, create_admin, create_consumer, ensure_topics, pipeline_topics
from daas.settings import Settings, Topics
from tests.support.endpoints import Endpoints

__all__ = ["Run", "Sink", "Surveillance", "Worker", "read_topic", "wait_for"]

REPO = Path(__file__).resolve().parents[2]


def wait_for(what: str, done: Callable[[], bool], *, timeout: float, interval: float = 0.5,
             alive: Callable[[], None] | None = None) -> None:
    """Poll until ``done()``; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        if alive is not None:
            alive()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def read_topic(settings: Settings, topic: str, *, idle: float = 2.0) -> list[Message]:
    """Every committed record of ``topic`` from the beginning (read_committed), up to its end now.

    Reads until every partition's position reaches the high watermark it had when the
    call began (transaction markers and aborted records count as passed), or until
    nothing arrived for ``idle`` seconds while an open transaction holds the rest back.
    """
    consumer = create_consumer(settings, f"reader-{time.monotonic_ns()}")
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
        consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        out: list[Message] = []
        waiting = {p for p, end in ends.items() if end > 0}
        last = time.monotonic()
        while waiting and time.monotonic() - last < idle:
            batch = consumer.consume(5000, timeout=0.1)
            if batch:
                last = time.monotonic()
                out.extend(m for m in batch if m.error() is None)
            for tp in consumer.position([TopicPartition(topic, p) for p in waiting]):
                if tp.offset >= ends[tp.partition]:
                    waiting.discard(tp.partition)
        return out
    finally:
        consumer.close()


@dataclass
class Run:
    """One test's private slice of the pipeline: its own topics, app id and prefixes."""

    endpoints: Endpoints
    name: str
    routes: dict[str, list[str]] = field(default_factory=lambda: {"simuhealth": ["lake", "ops"], "gsheet": ["lake"]})
    extra: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.topics = Topics(**{k: f"{self.name}.{v}" for k, v in Topics().model_dump().items()})
        self.settings = self.endpoints.settings(
            topics=self.topics, routes=self.routes, processor_app_id=self.name,
            surveillance_app_id=f"{self.name}-surv", runtime_dir=REPO / ".runtime" / "tests" / self.name,
            s3_prefix=self.name, **self.extra)
        ensure_topics(create_admin(self.settings), pipeline_topics(self.topics, self.settings.kafka_partitions))

    def env(self, **overrides: str) -> dict[str, str]:
        env = {**self.endpoints.env(), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "DAAS_RUNTIME_DIR": str(self.settings.runtime_dir), "DAAS_PROCESSOR_APP_ID": self.name,
               "DAAS_SURVEILLANCE_APP_ID": f"{self.name}-surv",
               "DAAS_ROUTES": json.dumps(self.routes), "DAAS_S3_PREFIX": self.name,
               **{f"DAAS_TOPIC_{k.upper()}": v for k, v in self.topics.model_dump().items()}}
        for key, value in self.extra.items():
            env[f"DAAS_{key.upper()}"] = str(value)
        env.update(overrides)
        return env

    def count(self, topic: str) -> int:
        return count_records(self.settings, topic)


class Worker(ChildProcess):
    """A processor worker in its own process (so it can be SIGKILLed like a crashed pod)."""

    module = "stream_processors"

    def __init__(self, env: dict[str, str], log: Path, args: Sequence[str] = ()) -> None:
        super().__init__(self.module, [sys.executable, "-m", self.module, *args], env, log, cwd=REPO)

    def assert_alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.module} exited with {self.proc.returncode}:\n{self.log_tail(3000)}")


class Surveillance(Worker):
    """A surveillance (Faust) worker in its own process."""

    module = "stream_processors.surveillance"


class Sink(Worker):
    """A sink in its own process: ``Sink(env, log, ["postgres", "--pg-schema", "s"])``."""

    module = "sinks"
