"""Failure alerts (posted to a real local HTTP server) and the run-time configuration."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from daas.errors import ConfigurationError
from tests.integration.warehouse.webhook import WebhookReceiver
from warehouse.alerts import alert_payload, post_alert
from warehouse.config import WarehouseConfig, load_config
from warehouse.orchestration import task_defaults


def _context() -> dict:
    ti = SimpleNamespace(dag_id="warehouse_copy", task_id="load_manifests", run_id="scheduled__2026-11-26T10:15",
                         try_number=4, max_tries=3, log_url="http://airflow/log")
    return {"ti": ti, "exception": ValueError("boom"), "logical_date": "2026-11-26T10:15:00+00:00"}


def test_an_alert_names_the_task_the_run_and_the_error() -> None:
    payload = alert_payload(_context())
    assert payload["text"] == (":red_circle: daas: task warehouse_copy.load_manifests failed "
                               "(run scheduled__2026-11-26T10:15, try 4): ValueError: boom")
    assert payload["daas"] == {"dag_id": "warehouse_copy", "task_id": "load_manifests",
                               "run_id": "scheduled__2026-11-26T10:15", "try_number": 4, "max_tries": 3,
                               "logical_date": "2026-11-26T10:15:00+00:00", "exception": "ValueError: boom",
                               "log_url": "http://airflow/log"}


def test_alerts_are_posted_as_json_and_a_dead_webhook_never_raises() -> None:
    receiver = WebhookReceiver()
    with receiver.running():
        assert post_alert(receiver.url, alert_payload(_context())) is True
        receiver.status = 500
        assert post_alert(receiver.url, {"text": "second"}) is False
    assert [r["json"]["text"][:30] for r in receiver.received] == [":red_circle: daas: task wareho", "second"]
    assert receiver.received[0]["content_type"] == "application/json"
    assert receiver.received[0]["path"] == "/hooks/daas"
    assert post_alert(receiver.url, {"text": "server is gone"}, timeout=2) is False
    assert post_alert("file:///etc/passwd", {"text": "x"}) is False


def test_every_task_retries_with_backoff_times_out_and_alerts() -> None:
    defaults = task_defaults()
    assert defaults["retries"] == 3 and defaults["retry_exponential_backoff"] is True
    assert defaults["execution_timeout"].total_seconds() == 1800
    assert defaults["max_retry_delay"].total_seconds() == 1800
    assert defaults["on_failure_callback"].__name__ == "task_failure_alert"


def test_unset_config_is_the_local_stack() -> None:
    config = load_config(None)
    assert config == WarehouseConfig()
    assert (config.target, config.rds_sync, config.schemas.lake, config.schemas.published) == (
        "postgres", "replicator", "lake", "published")


def test_the_aws_config_parses_and_typos_fail_loudly() -> None:
    raw = {"target": "redshift", "rds_sync": "airbyte", "airbyte_connection_id": "3f1c",
           "redshift": {"cluster_identifier": "daas-prod", "db_user": "loader",
                        "heavy": {"node_type": "ra3.xlplus", "nodes": 4}}}
    config = load_config(json.dumps(raw))
    assert config.require_redshift().heavy.nodes == 4 and config.redshift.iam_role_arn == "default"
    for bad, message in [
        ({**raw, "targt": "x"}, "targt: Extra inputs are not permitted"),
        ({"target": "redshift"}, "needs the 'redshift' section"),
        ({"rds_sync": "airbyte"}, "needs airbyte_connection_id"),
        ({"redshift": {"cluster_identifier": "daas-prod"}}, "db_user .* or secret_arn"),
        ({"lake_schema": "Lake-1"}, "not a plain lower-case identifier"),
        ({"lake_schema": "rds"}, "must be distinct"),
    ]:
        with pytest.raises(ConfigurationError, match=message):
            load_config(bad)
    with pytest.raises(ConfigurationError, match="not JSON"):
        load_config("{target: redshift}")
    with pytest.raises(ConfigurationError, match="no 'redshift' section"):
        load_config(None).require_redshift()
