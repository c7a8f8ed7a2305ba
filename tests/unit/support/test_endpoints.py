"""The fixture layer picks its source in the documented order and never skips."""

from __future__ import annotations

import contextlib

import pytest

from tests.support import endpoints as ep

ENV = {"DAAS_KAFKA_BOOTSTRAP_SERVERS": "k:1", "DAAS_S3_ENDPOINT_URL": "http://s3:2",
       "DAAS_RDS_DSN": "postgresql://a@h/rds", "DAAS_WAREHOUSE_DSN": "postgresql://a@h/wh"}


def test_complete_environment_wins() -> None:
    found = ep._from_environment(ENV)
    assert found is not None and (found.origin, found.kafka_bootstrap_servers) == ("environment", "k:1")


def test_partial_environment_is_not_used() -> None:
    assert ep._from_environment({k: v for k, v in ENV.items() if k != "DAAS_RDS_DSN"}) is None


def _fake(origin: str):  # noqa: ANN202
    @contextlib.contextmanager
    def provide():  # noqa: ANN202
        yield ep.Endpoints(origin, "k:1", "http://s", "a", "b", "postgresql://x/r", "postgresql://x/w")
    return provide


@pytest.mark.parametrize(("docker", "origin"), [(True, "testcontainers"), (False, "local-stack")])
def test_docker_then_local_stack(monkeypatch: pytest.MonkeyPatch, docker: bool, origin: str) -> None:
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(ep, "_docker_reachable", lambda: docker)
    monkeypatch.setattr(ep, "_from_testcontainers", _fake("testcontainers"))
    monkeypatch.setattr(ep, "_from_local_stack", _fake("local-stack"))
    with ep.provide_endpoints() as found:
        assert found.origin == origin


def test_a_stack_that_cannot_start_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    @contextlib.contextmanager
    def broken():  # noqa: ANN202
        raise RuntimeError("java not found")
        yield  # pragma: no cover

    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(ep, "_docker_reachable", lambda: False)
    monkeypatch.setattr(ep, "_from_local_stack", broken)
    with pytest.raises(RuntimeError, match="java not found"), ep.provide_endpoints():
        pass

