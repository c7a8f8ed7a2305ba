"""Redshift lifecycle decisions: pause at night, resume in the morning, resize for
heavy windows — each skipped when the cluster is already where it should be, and
pausing or resizing refused while a warehouse load or an Airbyte sync runs.

The ``redshift_lifecycle`` DAG is the only controller of the cluster's state: Terraform
schedules no Redshift actions of its own, it hands its schedule to Airflow as the
``[daas]`` options below. Loads and syncs ask :func:`accepts_work` first and skip
while the cluster is paused or between states.

The ``redshift_lifecycle`` DAG wires these to the amazon provider's operators and
sensor; everything that decides lives here, with no Airflow import, so it is tested
on its own. Schedules are cron expressions in one time zone (``LifecycleSchedule``);
the DAG reads them from the Airflow configuration section ``[daas]`` at parse time
(no I/O: the configuration is already in memory), and every run works out which
action it is for from its own scheduled time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from daas.errors import ConfigurationError
from warehouse.config import ClusterSize
from warehouse.errors import ClusterBusy, LoadInProgress, WarehouseError
from warehouse.targets import Lease

__all__ = [
    "ClusterAction",
    "accepts_work",
    "ClusterState",
    "Decision",
    "check",
    "LifecycleSchedule",
    "decide",
    "describe_cluster",
    "refuse_if_loading",
    "request_resize",
]

# Between states: the action has to wait (retried with backoff).
_TRANSITIONAL = frozenset({"creating", "modifying", "rebooting", "renaming", "resizing", "rotating-keys",
                           "updating-hsm", "cancelling-resize", "pausing", "resuming", "available, prep-for-resize",
                           "available, resize-cleanup"})


class ClusterAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    RESIZE_UP = "resize_up"
    RESIZE_DOWN = "resize_down"


@dataclass(frozen=True)
class LifecycleSchedule:
    """When each action runs (cron, in ``timezone``); a resize cron may be left out."""

    # Weekdays only: paused from Friday 20:00 to Monday 06:00, the heavy window on
    # Monday (terraform/modules/redshift/schedule.tf passes the same by default).
    pause: str | None = "0 20 * * 1-5"
    resume: str | None = "0 6 * * 1-5"
    resize_up: str | None = "0 7 * * 1"
    resize_down: str | None = "0 12 * * 1"
    timezone: str = "UTC"

    # Keys of the Airflow configuration section [daas] (env AIRFLOW__DAAS__<KEY>).
    CONF_KEYS = {"pause": "redshift_pause_cron", "resume": "redshift_resume_cron",
                 "resize_up": "redshift_resize_up_cron", "resize_down": "redshift_resize_down_cron",
                 "timezone": "redshift_schedule_timezone"}

    def __post_init__(self) -> None:
        from croniter import croniter

        try:
            ZoneInfo(self.timezone)
        except (KeyError, ValueError) as exc:
            raise ConfigurationError(f"[daas] redshift_schedule_timezone {self.timezone!r} is not an IANA zone") from exc
        crons = self.crons()
        for action, cron in crons.items():
            if not croniter.is_valid(cron):
                raise ConfigurationError(f"[daas] {self.CONF_KEYS[action.value]} = {cron!r} is not a cron expression")
        if len(set(crons.values())) != len(crons):
            raise ConfigurationError(f"Redshift lifecycle crons must differ, got {crons}")
        if (self.resize_up is None) != (self.resize_down is None):
            raise ConfigurationError("set both redshift_resize_up_cron and redshift_resize_down_cron, or neither")
        if (self.pause is None) != (self.resume is None):
            raise ConfigurationError("set both redshift_pause_cron and redshift_resume_cron, or neither "
                                     "(\"off\": the lifecycle runs only when triggered by hand)")

    @classmethod
    def from_conf(cls, get: Callable[..., str | None]) -> LifecycleSchedule:
        """Build from ``get(section, key, fallback=None)`` (Airflow's ``conf.get``); "off" disables an action."""
        values: dict[str, Any] = {}
        for name, key in cls.CONF_KEYS.items():
            value = get("daas", key, fallback=None)
            if value is not None:
                value = value.strip()
                values[name] = None if name != "timezone" and value in ("", "off", "none") else value
        return cls(**values)

    def crons(self) -> dict[ClusterAction, str]:
        found = {ClusterAction.PAUSE: self.pause, ClusterAction.RESUME: self.resume,
                 ClusterAction.RESIZE_UP: self.resize_up, ClusterAction.RESIZE_DOWN: self.resize_down}
        return {action: cron for action, cron in found.items() if cron}

    def action_at(self, when: datetime) -> ClusterAction:
        """The action scheduled at ``when`` (a run's scheduled time); WarehouseError if none is."""
        from croniter import croniter

        local = when.astimezone(ZoneInfo(self.timezone))
        matches = [a for a, cron in self.crons().items() if croniter.match(cron, local)]
        if len(matches) != 1:
            raise WarehouseError(f"{local.isoformat()} matches {len(matches)} lifecycle schedules "
                                 f"({self.crons()}); trigger manually with conf {{\"action\": ...}}")
        return matches[0]


@dataclass(frozen=True)
class ClusterState:
    identifier: str
    status: str
    node_type: str
    nodes: int

    @classmethod
    def from_description(cls, cluster: Mapping[str, Any]) -> ClusterState:
        return cls(cluster["ClusterIdentifier"], cluster["ClusterStatus"].lower(), cluster["NodeType"],
                   int(cluster["NumberOfNodes"]))


@dataclass(frozen=True)
class Decision:
    """Whether to act, why, and for a resize the exact ``resize_cluster`` arguments."""

    act: bool
    reason: str
    request: dict[str, Any] | None = None


def describe_cluster(client: Any, identifier: str) -> ClusterState:
    """The cluster's state from a boto3 ``redshift`` client."""
    try:
        clusters = client.describe_clusters(ClusterIdentifier=identifier)["Clusters"]
    except client.exceptions.ClusterNotFoundFault as exc:
        raise WarehouseError(f"Redshift cluster {identifier!r} does not exist; check the Airflow "
                             "Variable daas_warehouse (redshift.cluster_identifier)") from exc
    return ClusterState.from_description(clusters[0])


def _unusable(state: ClusterState, action: ClusterAction) -> None:
    if state.status in _TRANSITIONAL:
        raise ClusterBusy(f"cluster {state.identifier} is {state.status}; {action} waits for it to settle")
    if state.status not in ("available", "paused"):
        raise WarehouseError(f"cluster {state.identifier} is {state.status}; refusing to {action} it")


def decide(action: ClusterAction, state: ClusterState, *, target: ClusterSize | None = None,
           classic: bool = False) -> Decision:
    """What ``action`` should do to a cluster in ``state``: act, or skip (already there)."""
    if action is ClusterAction.PAUSE:
        if state.status in ("paused", "pausing"):
            return Decision(False, f"{state.identifier} is already {state.status}")
        _unusable(state, action)
        return Decision(True, f"{state.identifier} is available; pausing")
    if action is ClusterAction.RESUME:
        if state.status in ("available", "resuming"):
            return Decision(False, f"{state.identifier} is already {state.status}")
        _unusable(state, action)
        return Decision(True, f"{state.identifier} is paused; resuming")
    if target is None:
        raise ConfigurationError(f"{action} needs redshift.{'heavy' if action is ClusterAction.RESIZE_UP else 'base'} "
                                 "(node_type, nodes) in the Airflow Variable daas_warehouse")
    if (state.node_type, state.nodes) == (target.node_type, target.nodes):
        return Decision(False, f"{state.identifier} already has {state.nodes} x {state.node_type}")
    if state.status == "paused":
        return Decision(False, f"{state.identifier} is paused; nothing heavy can run, not resizing")
    _unusable(state, action)
    request = {"ClusterIdentifier": state.identifier, "ClusterType": "multi-node" if target.nodes > 1 else "single-node",
               "NodeType": target.node_type, "NumberOfNodes": target.nodes, "Classic": classic}
    return Decision(True, f"{state.identifier}: {state.nodes} x {state.node_type} -> {target.nodes} x "
                          f"{target.node_type} ({'classic' if classic else 'elastic'} resize)", request)


def accepts_work(state: ClusterState) -> Decision:
    """Whether a load or a sync may use the cluster now: only when it is available.

    Paused (or pausing, resuming, resizing) is the lifecycle at work, not a failure:
    the caller skips and the next scheduled run picks the work up.
    """
    if state.status == "available":
        return Decision(True, f"{state.identifier} is available")
    return Decision(False, f"{state.identifier} is {state.status}; skipping until the lifecycle makes it available")


def refuse_if_loading(*, running_copy_runs: int, leases: Sequence[Lease], running_syncs: int = 0) -> None:
    """LoadInProgress (retryable) if a warehouse_copy run, an Airbyte sync run or a live load lease exists."""
    if running_copy_runs:
        raise LoadInProgress(f"{running_copy_runs} warehouse_copy run(s) are queued or running; "
                             "not touching the cluster under a load")
    if running_syncs:
        raise LoadInProgress(f"{running_syncs} rds_to_redshift_sync run(s) are queued or running; "
                             "not touching the cluster under an Airbyte sync")
    if leases:
        held = ", ".join(f"{lease.holder} (until {lease.expires_at})" for lease in leases)
        raise LoadInProgress(f"a warehouse load holds the load lease: {held}; not touching the cluster under a load")


def check(action: ClusterAction, *, client: Any, cluster_identifier: str, target: ClusterSize | None = None,
          classic: bool = False, running_copy_runs: Callable[[], int],
          live_leases: Callable[[], Sequence[Lease]], running_syncs: Callable[[], int] = lambda: 0) -> Decision:
    """Decide ``action`` for the cluster now; refuse (LoadInProgress) to pause or resize under a
    load or an Airbyte sync.

    The load checks run only when there is something to do, so an already-paused
    cluster is skipped without asking the (then unreachable) warehouse for leases.
    """
    decision = decide(action, describe_cluster(client, cluster_identifier), target=target, classic=classic)
    if decision.act and action is not ClusterAction.RESUME:
        refuse_if_loading(running_copy_runs=running_copy_runs(), running_syncs=running_syncs(),
                          leases=live_leases())
    return decision


def request_resize(client: Any, request: Mapping[str, Any]) -> str:
    """Send the resize (``RedshiftHook(...).conn``); return the status Redshift reports."""
    response = client.resize_cluster(**request)
    return str(response["Cluster"]["ClusterStatus"])
