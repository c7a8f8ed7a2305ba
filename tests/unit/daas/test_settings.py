"""Settings fail loudly on typos and bad values, and name the fix."""

from __future__ import annotations

import pytest

from daas.errors import ConfigurationError
from daas.settings import load_settings


def test_an_unknown_daas_variable_is_rejected_with_a_suggestion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAAS_KAFKA_BOOTSTRAP_SERVER", "x:1")
    with pytest.raises(ConfigurationError, match="did you mean DAAS_KAFKA_BOOTSTRAP_SERVERS"):
        load_settings()


def test_a_bad_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAAS_KAFKA_BOOTSTRAP_SERVERS", "no-port-here")
    with pytest.raises(ConfigurationError, match="DAAS_KAFKA_BOOTSTRAP_SERVERS"):
        load_settings()


def test_unknown_routes_are_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAAS_ROUTES", '{"simuhealth": ["warehouse"]}')
    with pytest.raises(ConfigurationError, match="unknown route"):
        load_settings()


def test_topics_are_overridable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAAS_TOPIC_DLQ", "my.dlq")
    assert load_settings().topics.dlq == "my.dlq"


def test_missing_secret_names_the_variable(tmp_path) -> None:  # noqa: ANN001
    settings = load_settings(runtime_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="DAAS_RDS_DSN"):
        settings.require("rds_dsn")
