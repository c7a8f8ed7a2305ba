"""redshift_lifecycle: pause the cluster at night, resume it in the morning, resize it
for heavy windows; skip what is already done, never pause or resize under a load.

Decisions live in ``warehouse.lifecycle``; this file wires them to the amazon
provider's operators and sensor.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.providers.amazon.aws.operators.redshift_cluster import (
    RedshiftPauseClusterOperator,
    RedshiftResumeClusterOperator,
)
from airflow.providers.amazon.aws.sensors.redshift_cluster import RedshiftClusterSensor
from airflow.configuration import conf
from airflow.sdk import DAG, Param, task
from airflow.timetables.trigger import MultipleCronTriggerTimetable

from warehouse.lifecycle import ClusterAction, LifecycleSchedule
from warehouse.orchestration import TAGS, fatal_errors_fail_fast, lifecycle_check, runtime_config, task_defaults

SCHEDULE = LifecycleSchedule.from_conf(conf.get)  # [daas] section, in memory: no I/O
_PLAN = "{{ ti.xcom_pull(task_ids='plan', key='%s') }}"
_CLUSTER = {"cluster_identifier": _PLAN % "cluster_identifier", "aws_conn_id": _PLAN % "aws_conn_id",
            "region_name": _PLAN % "region_name"}
_WAIT = {"deferrable": True, "poke_interval": 30, "timeout": 60 * 60, "execution_timeout": timedelta(minutes=75)}

with DAG(
    dag_id="redshift_lifecycle",
    # The only controller of the cluster's state (Terraform schedules no Redshift actions);
    # with every cron "off" it runs only when triggered by hand.
    schedule=MultipleCronTriggerTimetable(*SCHEDULE.crons().values(), timezone=SCHEDULE.timezone)
    if SCHEDULE.crons() else None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(),
    render_template_as_native_obj=True,  # an unset region renders as None, not "None"
    params={"action": Param(None, type=["null", "string"], enum=[None, *(a.value for a in ClusterAction)],
                            description="Manual runs: pause, resume, resize_up or resize_down.")},
    tags=[*TAGS, "redshift", "cost"],
    doc_md=__doc__ + f"""
Schedules (Airflow config section `[daas]`, time zone `{SCHEDULE.timezone}`):
pause `{SCHEDULE.pause}`, resume `{SCHEDULE.resume}`, resize up `{SCHEDULE.resize_up}`,
resize down `{SCHEDULE.resize_down}`. Each run finds its action from its scheduled
time (or the `action` param when triggered by hand), then:

* **pause** — skip if paused/pausing; refuse (retried with backoff, then alert) while
  a `warehouse_copy` or `rds_to_redshift_sync` run is queued/running or a load holds
  the lease; else
  `RedshiftPauseClusterOperator`, then `RedshiftClusterSensor` until `paused`.
* **resume** — skip if available/resuming; else `RedshiftResumeClusterOperator`, wait for `available`.
* **resize_up / resize_down** — to `redshift.heavy` / `redshift.base` of the Variable
  `daas_warehouse`; skip if already that size (or paused); refuse under a load; else
  `resize_cluster` through the provider's `RedshiftHook`, wait, verify the size.
""",
) as dag:

    @task.branch(doc_md="Work out this run's action and the cluster; branch to its check.")
    @fatal_errors_fail_fast
    def plan() -> str:
        from airflow.sdk import get_current_context

        context = get_current_context()
        chosen = context["params"].get("action")
        when = context.get("logical_date") or context["dag_run"].run_after
        action = ClusterAction(chosen) if chosen else SCHEDULE.action_at(when)
        redshift = runtime_config().require_redshift()
        ti = context["ti"]
        for key in ("cluster_identifier", "aws_conn_id", "region_name"):
            ti.xcom_push(key=key, value=getattr(redshift, key))
        ti.xcom_push(key="action", value=action.value)
        return {ClusterAction.PAUSE: "check_pause", ClusterAction.RESUME: "check_resume"}.get(action, "check_resize")

    @task.short_circuit(doc_md="Skip if already paused; refuse while a load runs.")
    @fatal_errors_fail_fast
    def check_pause() -> bool:
        return bool(lifecycle_check(ClusterAction.PAUSE))

    @task.short_circuit(doc_md="Skip if already available.")
    @fatal_errors_fail_fast
    def check_resume() -> bool:
        return bool(lifecycle_check(ClusterAction.RESUME))

    @task.short_circuit(doc_md="Skip if already the wanted size (or paused); refuse while a load runs. "
                               "Returns the resize_cluster request.")
    @fatal_errors_fail_fast
    def check_resize(action: str) -> dict | bool:
        return lifecycle_check(action)

    @task(doc_md="Send resize_cluster through the provider's RedshiftHook.")
    @fatal_errors_fail_fast
    def resize_cluster(request: dict) -> str:
        from airflow.providers.amazon.aws.hooks.redshift_cluster import RedshiftHook

        from warehouse.lifecycle import request_resize

        redshift = runtime_config().require_redshift()
        return request_resize(RedshiftHook(aws_conn_id=redshift.aws_conn_id, region_name=redshift.region_name).conn,
                              request)

    @task(doc_md="Fail unless the cluster now has the requested node type and count.")
    @fatal_errors_fail_fast
    def verify_size(request: dict) -> str:
        from airflow.providers.amazon.aws.hooks.redshift_cluster import RedshiftHook

        from warehouse.errors import WarehouseError
        from warehouse.lifecycle import describe_cluster

        redshift = runtime_config().require_redshift()
        state = describe_cluster(RedshiftHook(aws_conn_id=redshift.aws_conn_id, region_name=redshift.region_name).conn,
                                 request["ClusterIdentifier"])
        if (state.node_type, state.nodes) != (request["NodeType"], request["NumberOfNodes"]):
            raise WarehouseError(f"after the resize {state.identifier} has {state.nodes} x {state.node_type}, "
                                 f"not {request['NumberOfNodes']} x {request['NodeType']}")
        return f"{state.nodes} x {state.node_type}"

    pause = RedshiftPauseClusterOperator(task_id="pause_cluster", **_CLUSTER, wait_for_completion=False,
                                         deferrable=False, doc_md="Pause the cluster (provider operator).")
    paused = RedshiftClusterSensor(task_id="wait_paused", target_status="paused", **_CLUSTER, **_WAIT,
                                   doc_md="Wait until the cluster reports paused.")
    resume = RedshiftResumeClusterOperator(task_id="resume_cluster", **_CLUSTER, wait_for_completion=False,
                                           deferrable=False, doc_md="Resume the cluster (provider operator).")
    available = RedshiftClusterSensor(task_id="wait_available", target_status="available", **_CLUSTER, **_WAIT,
                                      doc_md="Wait until the cluster reports available.")
    resized = RedshiftClusterSensor(task_id="wait_resized", target_status="available", **_CLUSTER, **_WAIT,
                                    doc_md="Wait until the resize has finished.")

    branch = plan()
    branch >> check_pause() >> pause >> paused
    branch >> check_resume() >> resume >> available
    request = check_resize(_PLAN % "action")
    branch >> request
    resize_cluster(request) >> resized >> verify_size(request)
