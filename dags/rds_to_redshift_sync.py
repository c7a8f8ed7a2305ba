"""rds_to_redshift_sync: the RDS ops tables into the warehouse, incremental and deduplicated.

On AWS an Airbyte connection does the sync; locally the Airbyte stand-in
(``warehouse.replicator``) does, with the same semantics. Which one runs is decided at
run time from the Airflow Variable ``daas_warehouse`` (``rds_sync``). A sync that wrote
rows is published (``warehouse.jobs.publish``), as ``warehouse_copy`` publishes its loads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.providers.airbyte.operators.airbyte import AirbyteTriggerSyncOperator
from airflow.providers.airbyte.sensors.airbyte import AirbyteJobSensor
from airflow.sdk import DAG, task
from airflow.timetables.trigger import CronTriggerTimetable
from airflow.utils.trigger_rule import TriggerRule

from warehouse.orchestration import (
    TAGS,
    fatal_errors_fail_fast,
    redshift_client_factory,
    runtime_config,
    schedule_setting,
    task_defaults,
    warehouse_accepts_work,
)

_CHOICE = "{{ ti.xcom_pull(task_ids='choose_sync', key='%s') }}"
# The operator and sensor do not template their connection id, so it is Airflow
# configuration (in memory at parse time), not part of the run-time Variable.
AIRBYTE_CONN_ID = schedule_setting("airbyte_conn_id", "airbyte_default")

with DAG(
    dag_id="rds_to_redshift_sync",
    schedule=CronTriggerTimetable(schedule_setting("rds_sync_cron", "*/15 * * * *"), timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # one sync at a time, as Airbyte itself allows per connection
    default_args=task_defaults(),
    render_template_as_native_obj=True,
    tags=[*TAGS, "rds", "airbyte"],
    doc_md=__doc__ + """
`warehouse_available` skips the run while the Redshift cluster is paused (the
lifecycle never pauses under a running sync). `choose_sync` reads `rds_sync` from the Variable: **airbyte** triggers the Airbyte
connection (`airbyte_connection_id`, through the Airflow connection named by
`[daas] airbyte_conn_id`, default `airbyte_default`; incremental, append + deduped on each
table's key, cursor on `updated_at`) with `AirbyteTriggerSyncOperator(asynchronous=True)` and waits
with a deferrable `AirbyteJobSensor`, so no worker slot is held while Airbyte works;
**replicator** (the default, local) runs `warehouse.replicator` into `<rds>`: encounters,
surveillance alerts and dead letters. Every 15 minutes (Airflow config `[daas] rds_sync_cron`).

The published views are a snapshot taken at each publish, so `sync_wrote_rows` asks
whichever sync ran how many rows it wrote (the replicator's report; the Airbyte job's
`rowsSynced`, publishing as well when Airbyte does not say) and `publish_analytics`
republishes only then, under the warehouse's load lease, as `warehouse_copy` does.
""",
) as dag:

    @task.short_circuit(doc_md="Skip the run while the Redshift cluster is paused or between states.")
    @fatal_errors_fail_fast
    def warehouse_available() -> bool:
        return warehouse_accepts_work()

    @task.branch(doc_md="Pick the Airbyte path or the local replicator from the Variable daas_warehouse.")
    @fatal_errors_fail_fast
    def choose_sync() -> str:
        from airflow.sdk import get_current_context

        config = runtime_config()
        if config.rds_sync == "replicator":
            return "replicate_locally"
        ti = get_current_context()["ti"]
        ti.xcom_push(key="airbyte_connection_id", value=config.airbyte_connection_id)
        return "airbyte_trigger_sync"

    @task(doc_md="The Airbyte stand-in: copy RDS rows changed since the saved cursor, newest wins.")
    @fatal_errors_fail_fast
    def replicate_locally() -> dict:
        from daas.settings import load_settings
        from warehouse import jobs

        report = jobs.replicate_rds(runtime_config(), load_settings())
        return {"rows_read": report.rows_read, "rows_written": report.rows_written,
                "cursor": report.cursor.isoformat() if report.cursor else None}

    trigger = AirbyteTriggerSyncOperator(
        task_id="airbyte_trigger_sync",
        airbyte_conn_id=AIRBYTE_CONN_ID,
        connection_id=_CHOICE % "airbyte_connection_id",
        asynchronous=True,
        deferrable=False,
        execution_timeout=timedelta(minutes=10),
        doc_md="Start a sync job on the Airbyte connection; returns its job id at once.",
    )
    wait = AirbyteJobSensor(
        task_id="airbyte_wait_for_sync",
        airbyte_conn_id=AIRBYTE_CONN_ID,
        airbyte_job_id=trigger.output,
        deferrable=True,
        poke_interval=60,
        timeout=3 * 60 * 60,
        execution_timeout=timedelta(hours=3),
        doc_md="Wait (deferred, in the triggerer) for the Airbyte job to succeed; fail if it fails or is cancelled.",
    )

    @task.short_circuit(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
                        doc_md="Go on to publish only when the sync that ran wrote rows.")
    @fatal_errors_fail_fast
    def sync_wrote_rows() -> bool:
        import logging

        from airflow.providers.airbyte.hooks.airbyte import AirbyteHook
        from airflow.sdk import get_current_context

        ti = get_current_context()["ti"]
        local = ti.xcom_pull(task_ids="replicate_locally")
        if local is not None:
            rows = local["rows_written"]
        else:
            job_id = int(ti.xcom_pull(task_ids="airbyte_trigger_sync"))
            rows = AirbyteHook(airbyte_conn_id=AIRBYTE_CONN_ID).get_job_details(job_id).rows_synced
        logging.getLogger(__name__).info("the sync wrote %s rows", "an unreported number of" if rows is None else rows)
        return rows is None or rows > 0

    @task(doc_md="Republish the analytics views and the published snapshot, under the load lease.")
    @fatal_errors_fail_fast
    def publish_analytics() -> int:
        from daas.settings import load_settings
        from warehouse import jobs

        config = runtime_config()
        # Under the load lease (warehouse_copy publishes too): see jobs.publish.
        return jobs.publish(config, load_settings(), aws_client=redshift_client_factory(config))

    choice = choose_sync()
    warehouse_available() >> choice
    synced = sync_wrote_rows()
    choice >> replicate_locally() >> synced
    choice >> trigger >> wait >> synced
    synced >> publish_analytics()
