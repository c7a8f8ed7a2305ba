"""lake_manifests_watch: update the ``daas_lake_manifests`` asset when the S3 sink has
committed new manifests, so ``warehouse_copy`` loads them within minutes instead of at
its next 15-minute run.

It lists the manifests (one S3 LIST, no warehouse access, so it runs while Redshift is
paused) and compares their count and newest time with the mark the asset's last event
carries; only a changed mark emits an event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, task
from airflow.timetables.trigger import CronTriggerTimetable

from warehouse.orchestration import TAGS, fatal_errors_fail_fast, lake_manifests_asset, schedule_setting, task_defaults

LAKE_MANIFESTS = lake_manifests_asset()

with DAG(
    dag_id="lake_manifests_watch",
    schedule=CronTriggerTimetable(schedule_setting("lake_manifests_watch_cron", "*/5 * * * *"), timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(execution_timeout=timedelta(minutes=5)),
    tags=[*TAGS, "lake"],
    doc_md=__doc__ + """
Every 5 minutes (Airflow config `[daas] lake_manifests_watch_cron`): `detect_new_manifests`
is skipped when nothing changed, and otherwise succeeds with the new mark as the event's
extra (`manifests`, `newest_modified`), which triggers `warehouse_copy`.
""",
) as dag:

    @task(inlets=[LAKE_MANIFESTS], outlets=[LAKE_MANIFESTS],
          doc_md="Emit a daas_lake_manifests event if the lake's manifests changed since the last one.")
    @fatal_errors_fail_fast
    def detect_new_manifests() -> dict:
        from airflow.exceptions import AirflowSkipException
        from airflow.sdk import get_current_context

        from daas.settings import load_settings
        from warehouse import jobs

        context = get_current_context()
        mark = jobs.lake_manifests_mark(load_settings())
        previous = context["inlet_events"][LAKE_MANIFESTS]
        if mark["manifests"] == 0 or (previous and previous[-1].extra == mark):
            raise AirflowSkipException(f"no new manifest: {mark}")
        context["outlet_events"][LAKE_MANIFESTS].extra = mark
        return mark

    detect_new_manifests()
