"""lake_manifests_watch with ``dag.test()`` against the real S3 of the local stack: an event
on ``daas_lake_manifests`` exactly when the sink has committed something new, and that
event queues a ``warehouse_copy`` run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.warehouse.lake_files import delete_prefix, encounter, ensure_bucket, write_lake_batch
from warehouse.clients import s3_client


@pytest.fixture
def lake(airflow_env, stack_settings, unique_schema) -> Iterator[dict[str, Any]]:  # noqa: ANN001
    prefix = unique_schema("watch").replace("_", "-")
    airflow_env(DAAS_S3_PREFIX=prefix)
    s3 = s3_client(stack_settings)
    ensure_bucket(s3, stack_settings.s3_bucket)
    yield {"s3": s3, "bucket": stack_settings.s3_bucket, "prefix": prefix}
    delete_prefix(s3, stack_settings.s3_bucket, prefix)


def _events() -> list[Any]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return [e.extra for e in session.query(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .filter(AssetModel.name == "daas_lake_manifests").order_by(AssetEvent.id)]


def _queued_copy_runs() -> int:
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.query(AssetDagRunQueue).filter(AssetDagRunQueue.target_dag_id == "warehouse_copy").count()


@pytest.fixture
def copy_unpaused(synced_dagbag) -> Iterator[None]:  # noqa: ANN001
    """warehouse_copy switched on, as in a running deployment (new DAGs start paused)."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    def pause(paused: bool) -> None:
        with create_session() as session:
            session.query(DagModel).filter(DagModel.dag_id == "warehouse_copy").update({"is_paused": paused})

    pause(False)
    yield
    pause(True)


def test_an_event_only_when_new_manifests_land_and_it_queues_warehouse_copy(lake, run_dag, copy_unpaused) -> None:  # noqa: ANN001
    assert run_dag("lake_manifests_watch") == {"detect_new_manifests": "skipped"}  # an empty lake
    before = len(_events())

    write_lake_batch(lake["s3"], lake["bucket"], lake["prefix"], [encounter("w1")], partition=0, first_offset=0)
    assert run_dag("lake_manifests_watch") == {"detect_new_manifests": "success"}
    events = _events()
    assert len(events) == before + 1 and events[-1]["manifests"] == 1 and events[-1]["newest_modified"]
    assert _queued_copy_runs() >= 1  # the scheduler would start warehouse_copy now

    assert run_dag("lake_manifests_watch") == {"detect_new_manifests": "skipped"}  # nothing new
    assert len(_events()) == before + 1

    write_lake_batch(lake["s3"], lake["bucket"], lake["prefix"], [encounter("w2")], partition=1, first_offset=7)
    assert run_dag("lake_manifests_watch") == {"detect_new_manifests": "success"}
    assert _events()[-1]["manifests"] == 2
