"""The Airflow glue: fatal errors skip retries, retryable ones do not; config read at run time."""

from __future__ import annotations

import pytest

from daas.errors import ConfigurationError
from warehouse.errors import LoadInProgress, ManifestError
from warehouse.orchestration import fatal_errors_fail_fast, schedule_setting


def test_fatal_project_errors_fail_fast_and_retryable_ones_are_retried() -> None:
    from airflow.exceptions import AirflowFailException

    @fatal_errors_fail_fast
    def raising(exc: Exception) -> None:
        raise exc

    with pytest.raises(AirflowFailException, match="ManifestError: bad manifest") as caught:
        raising(ManifestError("bad manifest"))
    assert isinstance(caught.value.__cause__, ManifestError)
    with pytest.raises(LoadInProgress):  # Retryable: Airflow retries it with backoff
        raising(LoadInProgress("a load runs"))
    with pytest.raises(KeyError):  # not ours: a bug, left as it is
        raising(KeyError("x"))


def test_schedules_are_read_from_the_daas_config_section(monkeypatch: pytest.MonkeyPatch) -> None:
    assert schedule_setting("warehouse_copy_cron", "*/15 * * * *") == "*/15 * * * *"
    monkeypatch.setenv("AIRFLOW__DAAS__WAREHOUSE_COPY_CRON", "*/5 * * * *")
    assert schedule_setting("warehouse_copy_cron", "*/15 * * * *") == "*/5 * * * *"


def test_the_lifecycle_schedule_follows_the_airflow_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.configuration import conf

    from warehouse.lifecycle import LifecycleSchedule

    monkeypatch.setenv("AIRFLOW__DAAS__REDSHIFT_PAUSE_CRON", "0 21 * * 1-5")
    monkeypatch.setenv("AIRFLOW__DAAS__REDSHIFT_RESIZE_UP_CRON", "off")
    monkeypatch.setenv("AIRFLOW__DAAS__REDSHIFT_RESIZE_DOWN_CRON", "off")
    monkeypatch.setenv("AIRFLOW__DAAS__REDSHIFT_SCHEDULE_TIMEZONE", "Africa/Lagos")
    schedule = LifecycleSchedule.from_conf(conf.get)
    assert (schedule.pause, schedule.resume, schedule.resize_up, schedule.timezone) == (
        "0 21 * * 1-5", "0 6 * * 1-5", None, "Africa/Lagos")
    monkeypatch.setenv("AIRFLOW__DAAS__REDSHIFT_RESUME_CRON", "every morning")
    with pytest.raises(ConfigurationError, match="redshift_resume_cron = 'every morning' is not a cron"):
        LifecycleSchedule.from_conf(conf.get)
