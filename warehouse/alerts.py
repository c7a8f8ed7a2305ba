"""Failure alerts: every DAG task's ``on_failure_callback`` posts to a webhook.

The URL comes from the Airflow Variable ``daas_alert_webhook_url`` — set it in the
metastore, or as the environment variable ``AIRFLOW_VAR_DAAS_ALERT_WEBHOOK_URL`` —
and is read when a task fails, never at DAG-parse time. The body is JSON with a
human ``text`` line (what Slack and Teams incoming webhooks display) and the
structured facts under ``daas``. Posting is best effort: an unreachable webhook is
logged, never raised, so the alert cannot hide the failure it reports.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

__all__ = ["WEBHOOK_VARIABLE", "alert_payload", "post_alert", "task_failure_alert", "webhook_url"]

WEBHOOK_VARIABLE = "daas_alert_webhook_url"

log = logging.getLogger(__name__)


def alert_payload(context: Mapping[str, Any]) -> dict[str, Any]:
    """The alert body for a failed task instance's Airflow context."""
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    exception = context.get("exception")
    facts = {
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "max_tries": getattr(ti, "max_tries", None),
        "logical_date": str(context.get("logical_date")) if context.get("logical_date") else None,
        "exception": f"{type(exception).__name__}: {exception}" if exception is not None else None,
        "log_url": getattr(ti, "log_url", None),
    }
    text = (f":red_circle: daas: task {facts['dag_id']}.{facts['task_id']} failed "
            f"(run {facts['run_id']}, try {facts['try_number']})")
    if facts["exception"]:
        text += f": {facts['exception'][:500]}"
    return {"text": text, "daas": facts}


def post_alert(url: str, payload: Mapping[str, Any], *, timeout: float = 10.0) -> bool:
    """POST ``payload`` as JSON; True on a 2xx answer. Never raises."""
    if not url.startswith(("https://", "http://")):
        log.error("alert webhook %r is not an http(s) URL; alert not sent", url)
        return False
    request = urllib.request.Request(url, data=json.dumps(payload, default=str).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "daas-alerts/1"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            return 200 <= response.status < 300
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        log.error("alert webhook did not accept the alert: %s", exc)
        return False


def webhook_url() -> str | None:
    """The configured webhook URL (Airflow Variable), or None."""
    try:
        from airflow.sdk import Variable

        return Variable.get(WEBHOOK_VARIABLE, default=None) or None
    except Exception as exc:  # noqa: BLE001 - an alert must not fail on its own configuration
        log.error("cannot read Airflow Variable %s: %s", WEBHOOK_VARIABLE, exc)
        return None


def task_failure_alert(context: Mapping[str, Any]) -> None:
    """``on_failure_callback`` of every task: post the failure to the webhook, if one is set."""
    url = webhook_url()
    if not url:
        log.warning("task failed and no alert webhook is set (Airflow Variable %s)", WEBHOOK_VARIABLE)
        return
    post_alert(url, alert_payload(context))
