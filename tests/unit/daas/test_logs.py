"""One logging setup: timestamped and levelled, JSON on request, repeats summarised —
librdkafka's own lines included."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest

from daas.logs import RepeatFilter, configure_logging


@pytest.fixture(autouse=True)
def _restore_logging():  # noqa: ANN202
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_text_lines_carry_time_level_and_logger() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    logging.getLogger("daas.test").info("hello %s", "world")
    logging.getLogger("daas.test").debug("not at INFO")
    (line,) = stream.getvalue().splitlines()
    assert line[:4].isdigit() and " INFO    daas.test: hello world" in line


def test_json_lines_parse() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    logging.getLogger("daas.test").warning("disk at %d%%", 91)
    entry = json.loads(stream.getvalue())
    assert (entry["level"], entry["logger"], entry["message"]) == ("WARNING", "daas.test", "disk at 91%")
    assert entry["time"].endswith("Z")


def test_repeats_are_summarised_once_per_window_whatever_their_numbers() -> None:
    now = [0.0]
    repeat = RepeatFilter(window=30, clock=lambda: now[0])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(repeat)
    log = logging.getLogger("daas.test.repeats")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        for n in range(100):
            now[0] = n * 0.1
            log.error("connect to 127.0.0.1:9 failed (after %dms in state CONNECT)", n % 7)
        now[0] = 31.0
        log.error("connect to 127.0.0.1:9 failed (after 3ms in state CONNECT)")
        log.error("something else")
        log.info("progress lines pass every time: %d", 1)
        log.info("progress lines pass every time: %d", 2)
    finally:
        log.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 5
    assert "repeated 99 more times in the last 30s" in lines[1] and lines[2] == "something else"
    assert lines[3:] == ["progress lines pass every time: 1", "progress lines pass every time: 2"]


def test_librdkafka_errors_come_through_python_logging_rate_limited() -> None:
    from daas.kafka import create_producer
    from daas.settings import load_settings

    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    producer = create_producer(load_settings(kafka_bootstrap_servers="127.0.0.1:9"),
                               **{"reconnect.backoff.ms": 10, "reconnect.backoff.max.ms": 50})
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        producer.poll(0.1)  # serves librdkafka's log callbacks
    lines = [line for line in stream.getvalue().splitlines() if "librdkafka" in line]
    assert lines, "librdkafka logged nothing through Python logging"
    assert all(line[:4].isdigit() for line in lines)
    assert len(lines) <= 6  # dozens of reconnect failures, a few distinct lines
