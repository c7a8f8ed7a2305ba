"""The testcontainers source of tests/support/endpoints.py, checked by testcontainers itself.

There is no Docker engine here, so the containers cannot start. What can run does:
testcontainers' own validation (``with_kraft()`` refuses images it cannot run in KRaft
mode) and its own ``start()``, which configures each container (KRaft settings, the
start script command, credentials) and hands the result to the engine. Only the engine
is replaced: its ``create`` call is recorded and stops the start there.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import endpoints as ep


class _Created(Exception):
    """Raised by the engine stand-in with what testcontainers asked it to create."""

    def __init__(self, image: str, kwargs: dict[str, Any]) -> None:
        super().__init__(image)
        self.image, self.kwargs = image, kwargs


class _Engine:
    """Stands in for testcontainers' DockerClient (the Docker engine API)."""

    def __init__(self, **_: Any) -> None:
        pass

    def create(self, image: str, **kwargs: Any) -> Any:
        raise _Created(image, kwargs)


@pytest.fixture
def created(monkeypatch: pytest.MonkeyPatch) -> Any:
    from testcontainers.core import container
    from testcontainers.core.config import testcontainers_config

    monkeypatch.setattr(container, "DockerClient", _Engine)
    monkeypatch.setattr(testcontainers_config, "_ryuk_disabled", True)  # the reaper is a container too

    def start(what: Any) -> _Created:
        with pytest.raises(_Created) as caught:
            what.start()
        return caught.value

    return start


def test_kafka_is_one_kraft_broker_that_runs_transactions(created) -> None:  # noqa: ANN001
    kafka, _, _ = ep._containers("pw")
    request = created(kafka)
    env = request.kwargs["environment"]
    assert request.image == ep.KAFKA_IMAGE
    # testcontainers' KRaft configuration, applied by its own start():
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@localhost:9094"
    assert "kafka-storage format" in kafka.boot_command
    assert "/tc-start.sh" in request.kwargs["command"]
    # ours: one broker can hold the transaction state log (exactly-once), like the stack.
    for key, value in ep.KAFKA_SINGLE_BROKER.items():
        assert env[key] == value, key
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "1"
    assert set(request.kwargs["ports"]) == {"9093"}  # the client listener get_bootstrap_server() maps


def test_testcontainers_refuses_kraft_on_the_apache_image_and_accepts_ours() -> None:
    from testcontainers.community.kafka import KafkaContainer

    kafka = KafkaContainer.__new__(KafkaContainer)  # validation only: no engine client
    kafka.image = "apache/kafka:3.9.1"
    with pytest.raises(ValueError, match="not supported in Kraft mode"):
        kafka._verify_min_kraft_version()
    kafka.image = ep.KAFKA_IMAGE
    kafka._verify_min_kraft_version()


def test_minio_and_postgres_get_the_credentials_the_endpoints_use(created) -> None:  # noqa: ANN001
    _, minio, postgres = ep._containers("s3cret-pw")
    minio_request = created(minio)
    assert minio_request.image == ep.MINIO_IMAGE
    assert minio_request.kwargs["environment"]["MINIO_SECRET_KEY"] == "s3cret-pw"
    assert minio_request.kwargs["command"].startswith("server /data")
    pg_request = created(postgres)
    assert pg_request.image == ep.POSTGRES_IMAGE
    assert {k: pg_request.kwargs["environment"][k] for k in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB")} == {
        "POSTGRES_USER": "daas", "POSTGRES_PASSWORD": "s3cret-pw", "POSTGRES_DB": "daas_rds"}


@pytest.mark.parametrize("image", [ep.KAFKA_IMAGE, ep.MINIO_IMAGE, ep.POSTGRES_IMAGE])
def test_every_test_image_is_pinned(image: str) -> None:
    tag = image.rsplit(":", 1)[1]
    assert tag and tag != "latest"
