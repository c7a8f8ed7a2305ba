"""Running both sinks in-process until they are idle, for tests that check the stores."""

from __future__ import annotations

import threading
from typing import Any

from daas.settings import Settings

__all__ = ["run_sinks_until_idle"]


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
