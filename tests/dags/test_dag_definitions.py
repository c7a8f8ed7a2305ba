"""The DAG files: they load, do no I/O while parsing, and say what they do."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest

from warehouse.alerts import task_failure_alert

DAG_IDS = {"warehouse_copy", "rds_to_redshift_sync", "redshift_lifecycle", "lake_manifests_watch"}


def test_the_dagbag_loads_every_dag_with_zero_import_errors(dagbag) -> None:  # noqa: ANN001
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == DAG_IDS


def test_parsing_the_dags_does_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.hooks.base import BaseHook
    from airflow.models.dagbag import DagBag
    from airflow.sdk import Variable

    from tests.dags.conftest import ROOT

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError(f"I/O while parsing a DAG file: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(Variable, "get", refuse)
    monkeypatch.setattr(BaseHook, "get_connection", refuse)
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == DAG_IDS


def _edges(dag) -> set[tuple[str, str]]:  # noqa: ANN001
    return {(task.task_id, down) for task in dag.tasks for down in task.downstream_task_ids}


def test_every_task_retries_with_backoff_times_out_alerts_and_is_documented(dagbag) -> None:  # noqa: ANN001
    for dag in dagbag.dags.values():
        assert dag.tags and {"daas", "warehouse"} <= set(dag.tags), dag.dag_id
        assert dag.doc_md and dag.dag_id in dag.doc_md
        assert dag.max_active_runs == 1 and dag.catchup is False
        for task in dag.tasks:
            where = f"{dag.dag_id}.{task.task_id}"
            assert task.retries == 3, where
            assert task.retry_exponential_backoff is True, where
            assert task.retry_delay == timedelta(minutes=1) and task.max_retry_delay == timedelta(minutes=30), where
            assert task.execution_timeout is not None and task.execution_timeout <= timedelta(hours=3), where
            assert task.on_failure_callback == [task_failure_alert] or task.on_failure_callback is task_failure_alert, where
            assert task.doc_md, where


def test_warehouse_copy_runs_every_15_minutes_or_when_manifests_land(dagbag) -> None:  # noqa: ANN001
    dag = dagbag.dags["warehouse_copy"]
    timetable = dag.timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert timetable.timetable.serialize()["expression"] == "*/15 * * * *"
    assert timetable.asset_condition.name == "daas_lake_manifests"
    assert timetable.asset_condition.uri == "s3://daas-lake/encounters/_manifests"
    assert set(dag.task_ids) == {"warehouse_available", "load_manifests", "publish_analytics"}
    assert _edges(dag) == {("warehouse_available", "load_manifests"), ("load_manifests", "publish_analytics")}
    assert type(dag.get_task("warehouse_available")).__name__ == "_ShortCircuitDecoratedOperator"
    assert [o.name for o in dag.get_task("load_manifests").outlets] == ["daas_warehouse_encounters"]
    assert dag.get_task("load_manifests").execution_timeout == timedelta(minutes=30)


def test_rds_sync_branches_to_airbyte_or_the_local_replicator_then_publishes(dagbag) -> None:  # noqa: ANN001
    dag = dagbag.dags["rds_to_redshift_sync"]
    assert dag.timetable.serialize()["expression"] == "*/15 * * * *"
    assert set(dag.task_ids) == {"warehouse_available", "choose_sync", "replicate_locally", "airbyte_trigger_sync",
                                 "airbyte_wait_for_sync", "sync_wrote_rows", "publish_analytics"}
    assert _edges(dag) == {("warehouse_available", "choose_sync"),
                           ("choose_sync", "replicate_locally"), ("choose_sync", "airbyte_trigger_sync"),
                           ("airbyte_trigger_sync", "airbyte_wait_for_sync"),
                           ("replicate_locally", "sync_wrote_rows"), ("airbyte_wait_for_sync", "sync_wrote_rows"),
                           ("sync_wrote_rows", "publish_analytics")}
    # Whichever branch ran (the other is skipped), and only if it succeeded.
    wrote = dag.get_task("sync_wrote_rows")
    assert type(wrote).__name__ == "_ShortCircuitDecoratedOperator"
    assert wrote.trigger_rule == "none_failed_min_one_success"
    trigger, wait = dag.get_task("airbyte_trigger_sync"), dag.get_task("airbyte_wait_for_sync")
    assert type(trigger).__name__ == "AirbyteTriggerSyncOperator" and trigger.asynchronous is True
    assert type(wait).__name__ == "AirbyteJobSensor" and wait.deferrable is True
    assert wait.timeout == 3 * 3600 and wait.execution_timeout == timedelta(hours=3)


def test_redshift_lifecycle_pauses_resumes_and_resizes_on_its_schedules(dagbag) -> None:  # noqa: ANN001
    dag = dagbag.dags["redshift_lifecycle"]
    # Weekdays only: paused from Friday evening to Monday morning, heavy on Monday.
    assert dag.timetable.serialize()["expressions"] == [
        "0 20 * * 1-5", "0 6 * * 1-5", "0 7 * * 1", "0 12 * * 1"]
    assert _edges(dag) == {
        ("plan", "check_pause"), ("check_pause", "pause_cluster"), ("pause_cluster", "wait_paused"),
        ("plan", "check_resume"), ("check_resume", "resume_cluster"), ("resume_cluster", "wait_available"),
        ("plan", "check_resize"), ("check_resize", "resize_cluster"), ("check_resize", "verify_size"),
        ("resize_cluster", "wait_resized"), ("wait_resized", "verify_size"),
    }
    kinds = {t.task_id: type(t).__name__ for t in dag.tasks}
    assert kinds["pause_cluster"] == "RedshiftPauseClusterOperator"
    assert kinds["resume_cluster"] == "RedshiftResumeClusterOperator"
    assert {kinds[t] for t in ("wait_paused", "wait_available", "wait_resized")} == {"RedshiftClusterSensor"}
    assert kinds["check_pause"] == kinds["check_resume"] == kinds["check_resize"] == "_ShortCircuitDecoratedOperator"
    assert dag.get_task("wait_paused").target_status == "paused"
    assert dag.params["action"] is None


def test_lake_manifests_watch_emits_the_asset_warehouse_copy_is_scheduled_on(dagbag) -> None:  # noqa: ANN001
    watch, copy = dagbag.dags["lake_manifests_watch"], dagbag.dags["warehouse_copy"]
    assert watch.timetable.serialize()["expression"] == "*/5 * * * *"
    [task] = watch.tasks
    assert [a.name for a in task.outlets] == [a.name for a in task.inlets] == ["daas_lake_manifests"]
    assert task.outlets[0] == copy.timetable.asset_condition
