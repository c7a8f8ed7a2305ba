"""Lifecycle decisions: skip when already there, refuse under a load, exact resize request.

moto's Redshift stands in for AWS (describe, pause, resume); moto has no
``resize_cluster``, so the resize request is checked with botocore's Stubber.
"""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from daas.errors import ConfigurationError
from warehouse.config import ClusterSize
from warehouse.errors import ClusterBusy, LoadInProgress, WarehouseError
from warehouse.lifecycle import (
    ClusterAction,
    ClusterState,
    Decision,
    LifecycleSchedule,
    accepts_work,
    check,
    decide,
    describe_cluster,
    refuse_if_loading,
    request_resize,
)
from warehouse.targets import Lease

PAUSE, RESUME, UP, DOWN = ClusterAction.PAUSE, ClusterAction.RESUME, ClusterAction.RESIZE_UP, ClusterAction.RESIZE_DOWN
HEAVY = ClusterSize(node_type="ra3.xlplus", nodes=4)


def state(status: str, nodes: int = 2, node_type: str = "ra3.xlplus") -> ClusterState:
    return ClusterState("daas-prod", status, node_type, nodes)


@pytest.mark.parametrize(("action", "status", "act"), [
    (PAUSE, "available", True), (PAUSE, "paused", False), (PAUSE, "pausing", False),
    (RESUME, "paused", True), (RESUME, "available", False), (RESUME, "resuming", False),
])
def test_pause_and_resume_act_only_when_needed(action: ClusterAction, status: str, act: bool) -> None:
    assert decide(action, state(status)).act is act


@pytest.mark.parametrize("status", ["resizing", "modifying", "rebooting", "resuming"])
def test_pausing_a_cluster_between_states_waits(status: str) -> None:
    with pytest.raises(ClusterBusy, match=f"is {status}"):
        decide(PAUSE, state(status))


def test_a_deleting_cluster_is_left_alone() -> None:
    with pytest.raises(WarehouseError, match="deleting; refusing to resume"):
        decide(RESUME, state("deleting"))


def test_resize_sends_exactly_the_target_size_or_skips() -> None:
    assert decide(UP, state("available", nodes=2), target=HEAVY) == Decision(
        True, "daas-prod: 2 x ra3.xlplus -> 4 x ra3.xlplus (elastic resize)",
        {"ClusterIdentifier": "daas-prod", "ClusterType": "multi-node", "NodeType": "ra3.xlplus",
         "NumberOfNodes": 4, "Classic": False})
    assert not decide(UP, state("available", nodes=4), target=HEAVY).act
    assert decide(UP, state("paused", nodes=2), target=HEAVY).reason.endswith("paused; nothing heavy can run, not resizing")
    with pytest.raises(ConfigurationError, match="redshift.base"):
        decide(DOWN, state("available"), target=None)


def test_a_load_in_progress_refuses_with_the_reason() -> None:
    refuse_if_loading(running_copy_runs=0, leases=[])
    with pytest.raises(LoadInProgress, match="1 warehouse_copy run"):
        refuse_if_loading(running_copy_runs=1, leases=[])
    with pytest.raises(LoadInProgress, match="host:7:ab"):
        refuse_if_loading(running_copy_runs=0, leases=[Lease("host:7:ab", "t0", "t1")])
    with pytest.raises(LoadInProgress, match="1 rds_to_redshift_sync run.*under an Airbyte sync"):
        refuse_if_loading(running_copy_runs=0, running_syncs=1, leases=[])


def test_loads_and_syncs_use_the_cluster_only_while_it_is_available() -> None:
    assert accepts_work(state("available")).act
    for status in ("paused", "pausing", "resuming", "resizing"):
        decision = accepts_work(state(status))
        assert not decision.act and status in decision.reason


def test_the_schedule_names_each_runs_action_in_its_time_zone() -> None:
    schedule = LifecycleSchedule(pause="0 20 * * *", resume="0 6 * * *", resize_up="30 6 * * 1",
                                 resize_down="0 12 * * 1", timezone="Africa/Nairobi")
    assert schedule.action_at(datetime(2026, 11, 26, 17, 0, tzinfo=UTC)) is PAUSE  # 20:00 in Nairobi
    assert schedule.action_at(datetime(2026, 11, 30, 3, 30, tzinfo=UTC)) is UP  # Monday 06:30
    with pytest.raises(WarehouseError, match="matches 0 lifecycle schedules"):
        schedule.action_at(datetime(2026, 11, 26, 12, 1, tzinfo=UTC))


def test_schedules_come_from_the_daas_config_section_and_are_validated() -> None:
    conf = {"redshift_pause_cron": "0 22 * * *", "redshift_resize_up_cron": "off", "redshift_resize_down_cron": "off"}
    schedule = LifecycleSchedule.from_conf(lambda section, key, fallback=None: conf.get(key, fallback))
    assert schedule.crons() == {PAUSE: "0 22 * * *", RESUME: "0 6 * * 1-5"}
    with pytest.raises(ConfigurationError, match="not a cron expression"):
        LifecycleSchedule(pause="at night")
    with pytest.raises(ConfigurationError, match="must differ"):
        LifecycleSchedule(pause="0 6 * * 1-5")
    with pytest.raises(ConfigurationError, match="IANA"):
        LifecycleSchedule(timezone="Mars/Olympus")


@pytest.fixture
def redshift():  # noqa: ANN201
    with mock_aws():
        client = boto3.client("redshift", region_name="eu-west-1")
        client.create_cluster(ClusterIdentifier="daas-prod", NodeType="ra3.xlplus", NumberOfNodes=2,
                              MasterUsername="admin", MasterUserPassword="Passw0rd-not-real", ClusterType="multi-node")
        yield client


def test_check_against_moto_skips_a_paused_cluster_without_asking_about_loads(redshift) -> None:  # noqa: ANN001
    asked = []
    redshift.pause_cluster(ClusterIdentifier="daas-prod")
    decision = check(PAUSE, client=redshift, cluster_identifier="daas-prod",
                     running_copy_runs=lambda: asked.append("runs") or 0, live_leases=lambda: asked.append("leases") or [])
    assert (decision.act, asked) == (False, [])
    assert check(RESUME, client=redshift, cluster_identifier="daas-prod", running_copy_runs=lambda: 1,
                 live_leases=list).act  # resuming never waits for loads


def test_check_against_moto_refuses_to_pause_under_a_lease(redshift) -> None:  # noqa: ANN001
    with pytest.raises(LoadInProgress):
        check(PAUSE, client=redshift, cluster_identifier="daas-prod", running_copy_runs=lambda: 0,
              live_leases=lambda: [Lease("loader", "t0", "t1")])
    assert describe_cluster(redshift, "daas-prod").status == "available"
    with pytest.raises(WarehouseError, match="does not exist"):
        describe_cluster(redshift, "nope")


def test_the_resize_request_sends_exactly_the_decided_parameters() -> None:
    client = boto3.client("redshift", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    request = decide(UP, state("available", nodes=2), target=HEAVY).request
    with Stubber(client) as stub:
        stub.add_response("resize_cluster", {"Cluster": {"ClusterIdentifier": "daas-prod", "ClusterStatus": "resizing"}},
                          {"ClusterIdentifier": "daas-prod", "ClusterType": "multi-node", "NodeType": "ra3.xlplus",
                           "NumberOfNodes": 4, "Classic": False})
        assert request_resize(client, request) == "resizing"
        stub.assert_no_pending_responses()
