"""Operators see what to fix: a bad DAAS_RDS_DSN or an unreachable Kafka stops a stage at
once with a message naming the setting, against the real local PostgreSQL and Kafka."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from daas.errors import ConfigurationError, Retryable
from daas.kafka import BrokersUnreachable, require_brokers
from producers.kafka_producer import RecordProducer
from schemas import SIMUHEALTH_ENCOUNTER
from sinks.base import SinkRunner
from sinks.base.contract import PartitionStart
from sinks.postgres import PostgresSink
from tests.integration.sinks.support import REPO
from tests.support.endpoints import Endpoints

CLOSED_PORT = "127.0.0.1:9"  # discard: nothing listens on loopback


def _dsn(endpoints: Endpoints, **changes: str) -> str:
    return make_conninfo(**{**conninfo_to_dict(endpoints.rds_dsn), **changes})


def _password(endpoints: Endpoints) -> str:
    return str(conninfo_to_dict(endpoints.rds_dsn)["password"])


def test_a_dsn_that_does_not_parse_fails_at_construction_naming_the_setting(endpoints: Endpoints) -> None:
    settings = endpoints.settings(rds_dsn="postgresql://daas:s3cret@127.0.0.1:notaport/daas_rds host==")
    with pytest.raises(ConfigurationError, match="DAAS_RDS_DSN") as caught:
        PostgresSink(settings)
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(("change", "said"), [
    ({"password": "not-the-password"}, "password authentication failed"),
    ({"dbname": "no_such_database"}, 'database "no_such_database" does not exist'),
    ({"host": "no-such-host.invalid"}, "no-such-host.invalid"),
])
def test_a_dsn_the_server_refuses_is_a_configuration_error_not_back_pressure(
        endpoints: Endpoints, change: dict[str, str], said: str) -> None:
    sink = PostgresSink(endpoints.settings(rds_dsn=_dsn(endpoints, **change)), connect_timeout=3)
    with pytest.raises(ConfigurationError) as caught:
        sink.prepare(PartitionStart("t", 0, None, 0, 0))
    message = str(caught.value)
    assert "DAAS_RDS_DSN" in message and said in message
    assert _password(endpoints) not in message and "not-the-password" not in message


def test_a_server_that_is_down_is_retryable_and_named(endpoints: Endpoints) -> None:
    sink = PostgresSink(endpoints.settings(rds_dsn=_dsn(endpoints, host="127.0.0.1", port="9")), connect_timeout=3)
    with pytest.raises(Retryable) as caught:
        sink.prepare(PartitionStart("t", 0, None, 0, 0))
    assert "DAAS_RDS_DSN" in str(caught.value) and "127.0.0.1:9" in str(caught.value)
    assert _password(endpoints) not in str(caught.value)


def _timed(call: Callable[[], object]) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(BrokersUnreachable) as caught:
        call()
    return caught.value, time.monotonic() - started


def test_no_broker_fails_fast_naming_the_setting_and_what_was_tried(endpoints: Endpoints) -> None:
    settings = endpoints.settings(kafka_bootstrap_servers=CLOSED_PORT)
    error, took = _timed(lambda: require_brokers(settings, timeout=2.0))
    assert took < 10
    assert f"DAAS_KAFKA_BOOTSTRAP_SERVERS='{CLOSED_PORT}'" in str(error)
    assert "Connection refused" in str(error)
    require_brokers(endpoints.settings(), timeout=10.0)  # the real broker answers


def test_the_sink_runner_and_the_producer_fail_fast_without_kafka(endpoints: Endpoints) -> None:
    settings = endpoints.settings(kafka_bootstrap_servers=CLOSED_PORT)
    runner = SinkRunner(settings, PostgresSink(settings), topic="t-nothing", group_id="t-nothing")
    error, took = _timed(lambda: runner.run(stop_when_idle=1.0))
    assert took < 20 and "DAAS_KAFKA_BOOTSTRAP_SERVERS" in str(error)
    error, took = _timed(lambda: RecordProducer(settings, topic="t-nothing", schema_name=SIMUHEALTH_ENCOUNTER,
                                                source="simuhealth", connect_timeout=2.0))
    assert took < 10 and "DAAS_KAFKA_BOOTSTRAP_SERVERS" in str(error)


@pytest.mark.parametrize("command", [["sink", "postgres"], ["produce", "simuhealth", "--records", "5"]])
def test_daas_commands_exit_non_zero_at_once_naming_the_setting(endpoints: Endpoints, command: list[str]) -> None:
    env = {**endpoints.env(), "DAAS_KAFKA_BOOTSTRAP_SERVERS": CLOSED_PORT}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "console.main", *command], cwd=REPO, env={**_base_env(), **env},
                          capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    assert done.returncode != 0, done.stdout + done.stderr
    assert "DAAS_KAFKA_BOOTSTRAP_SERVERS" in done.stderr and "Connection refused" in done.stderr, done.stderr
    assert took < 45, f"took {took:.0f}s"


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("DAAS_")}
