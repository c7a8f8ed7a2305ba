"""warehouse_copy: the lake's committed manifests into the warehouse (COPY + MERGE).

Thin by design: the work is ``warehouse.jobs.copy_lake`` and ``warehouse.jobs.publish``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import DAG, Asset, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from warehouse.orchestration import (
    TAGS,
    fatal_errors_fail_fast,
    lake_manifests_asset,
    redshift_client_factory,
    runtime_config,
    schedule_setting,
    task_defaults,
    warehouse_accepts_work,
)

# Updated by the lake_manifests_watch DAG when the S3 sink has committed new manifests;
# the cron below catches anything missed.
LAKE_MANIFESTS = lake_manifests_asset()
WAREHOUSE_ENCOUNTERS = Asset(name="daas_warehouse_encounters", uri="daas-warehouse://lake/encounters")


with DAG(
    dag_id="warehouse_copy",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(schedule_setting("warehouse_copy_cron", "*/15 * * * *"), timezone="UTC"),
        assets=LAKE_MANIFESTS),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # loads never overlap (the load lease also guards against it)
    default_args=task_defaults(),
    tags=[*TAGS, "lake"],
    doc_md=__doc__ + """
Every 15 minutes (Airflow config `[daas] warehouse_copy_cron`) or when the
`daas_lake_manifests` asset is updated, `warehouse_available` skips the run while
the Redshift cluster is paused (the lifecycle's doing, not a failure; the next run
catches up), then `load_manifests` loads each manifest the S3
sink committed and the load-audit table does not list yet: COPY into staging, MERGE
into `<lake>.encounters` on `record_id`, audit row — one transaction per manifest,
so a second run loads nothing. `publish_analytics` then refreshes the analytics
views, the published snapshot and the reference population, holding the load lease so
that it never runs beside a load or `rds_to_redshift_sync`'s publish. Target
(PostgreSQL locally, Redshift on AWS) and schemas come from the Airflow Variable
`daas_warehouse`; the lake from `DAAS_*` settings.
""",
) as dag:

    @task.short_circuit(doc_md="Skip the run while the Redshift cluster is paused or between states.")
    @fatal_errors_fail_fast
    def warehouse_available() -> bool:
        return warehouse_accepts_work()

    @task(outlets=[WAREHOUSE_ENCOUNTERS], doc_md="COPY + MERGE every new manifest; returns the load report.")
    @fatal_errors_fail_fast
    def load_manifests() -> dict:
        from daas.settings import load_settings
        from warehouse import jobs

        config = runtime_config()
        return jobs.copy_lake(config, load_settings(), aws_client=redshift_client_factory(config)).as_dict()

    @task(doc_md="Republish the analytics views and the published snapshot, under the load lease.")
    @fatal_errors_fail_fast
    def publish_analytics() -> int:
        from daas.settings import load_settings
        from warehouse import jobs

        config = runtime_config()
        # Under the load lease (rds_to_redshift_sync publishes too): see jobs.publish.
        return jobs.publish(config, load_settings(), aws_client=redshift_client_factory(config))

    warehouse_available() >> load_manifests() >> publish_analytics()
