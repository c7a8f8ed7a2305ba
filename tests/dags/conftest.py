"""Airflow-environment fixtures: a throwaway metadata DB, the real local stack, DAG runs.

- Airflow reads its configuration when first imported, so ``pytest_configure`` points
  ``AIRFLOW_HOME`` at a temporary folder (SQLite metadata DB, this repo's ``dags/``)
  before any test module imports Airflow. The DB is created once per session
  (``airflow_db``); how long that takes is printed in the terminal summary.
- ``stack_settings``: the project's ``Settings`` for the running local stack, read
  from the environment / the stack's ``stack.env`` by ``load_settings()``. The shared
  ``endpoints`` fixture cannot start or health-check the stack here (its Kafka check
  needs confluent-kafka, which this environment does not have), so this fixture checks
  PostgreSQL and S3 itself and FAILS — never skips — when they do not answer.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    home = Path(tempfile.mkdtemp(prefix="daas-airflow-home-"))
    config._daas_airflow_home = home  # type: ignore[attr-defined]
    os.environ.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
    })


def pytest_unconfigure(config: pytest.Config) -> None:
    home = getattr(config, "_daas_airflow_home", None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    seconds = getattr(config, "_daas_airflow_db_seconds", None)
    if seconds is not None:
        terminalreporter.write_line(f"Airflow metadata DB (SQLite, airflow.utils.db.initdb) set up in {seconds:.1f} s")


@pytest.fixture(scope="session")
def airflow_db(request: pytest.FixtureRequest) -> None:
    """A migrated Airflow metadata DB for the session (what ``dag.test()`` needs)."""
    from airflow.utils import db

    began = time.monotonic()
    db.initdb()
    request.config._daas_airflow_db_seconds = time.monotonic() - began  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def dagbag() -> Any:
    from airflow.models.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


@pytest.fixture(scope="session")
def stack_settings() -> Any:
    """Settings for the running local stack; fails the test when PostgreSQL or S3 do not answer."""
    import psycopg

    from daas.settings import load_settings
    from warehouse.clients import s3_client

    runtime = os.environ.get("DAAS_RUNTIME_DIR") or str(ROOT / ".runtime")
    settings = load_settings(runtime_dir=runtime)
    problems = []
    for name in ("rds_dsn", "warehouse_dsn"):
        try:
            with psycopg.connect(settings.require(name), connect_timeout=5) as conn:
                conn.execute("select 1")
        except Exception as exc:  # noqa: BLE001 - every failure is reported below
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
    try:
        s3_client(settings).list_buckets()
    except Exception as exc:  # noqa: BLE001
        problems.append(f"S3 at {settings.s3_endpoint_url}: {type(exc).__name__}: {exc}")
    if problems:
        pytest.fail("the local stack is not healthy (start it with `.venv/bin/daas stack up`, or export the "
                    "DAAS_* endpoints): " + "; ".join(problems), pytrace=False)
    return settings


@pytest.fixture
def airflow_env(monkeypatch: pytest.MonkeyPatch, stack_settings: Any) -> Callable[..., None]:
    """Set Airflow Variables / connections (as AIRFLOW_VAR_ / AIRFLOW_CONN_ env) and DAAS_ settings."""
    monkeypatch.setenv("DAAS_RUNTIME_DIR", str(stack_settings.runtime_dir))

    def set_env(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)

    return set_env


def _no_retries(dag: Any) -> None:
    for task in dag.tasks:
        task.retries = 0


def _failure_context_as_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give failure callbacks the task's exception under ``dag.test()`` too.

    A worker's task runner (``task_runner.main``) puts the error into the context before
    ``finalize`` calls ``on_failure_callback``; Airflow 3.0.6's in-process runner used by
    ``dag.test()`` skips that line, so the alert would lose its exception only in tests.
    """
    from airflow.sdk.execution_time import task_runner

    finalize = task_runner.finalize

    def finalize_with_exception(ti: Any, state: Any, context: Any, log: Any, error: Any = None) -> Any:
        context["exception"] = error
        return finalize(ti, state, context, log, error)

    monkeypatch.setattr(task_runner, "finalize", finalize_with_exception)


@pytest.fixture(scope="session")
def synced_dagbag(airflow_db: None, dagbag: Any) -> Any:
    """The DAGs written to the metadata DB as the DAG processor does, so their assets are
    active (Airflow 3.0 refuses to run a task whose outlets are not)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    DagBundlesManager().sync_bundles_to_db()
    dagbag.sync_to_db("dags-folder", None)
    return dagbag


@pytest.fixture
def run_dag(synced_dagbag: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, str]]:
    """Run a DAG once with ``dag.test()``; return ``{task_id: state}``.

    ``retries=False`` turns retries off for the run (failure-path tests; the DAG's own
    retries are asserted in test_dag_definitions); ``only`` runs just those tasks (a
    partial subset, without their upstream).
    """
    _failure_context_as_in_production(monkeypatch)

    def run(dag_id: str, *, conf: dict[str, Any] | None = None, retries: bool = True,
            only: list[str] | None = None) -> dict[str, str]:
        import copy

        dag = copy.deepcopy(synced_dagbag.dags[dag_id]) if not retries else synced_dagbag.dags[dag_id]
        if only is not None:
            dag = dag.partial_subset(only, include_upstream=False)
        if not retries:
            _no_retries(dag)
        run = dag.test(run_conf=conf)
        return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}

    return run


@pytest.fixture
def unique_schema(unique_name: Callable[[str], str]) -> Callable[[str], str]:
    return lambda what: unique_name(what).replace("-", "_")[:56]


@pytest.fixture
def webhook() -> Iterator[Any]:
    from tests.integration.warehouse.webhook import WebhookReceiver

    receiver = WebhookReceiver()
    with receiver.running():
        yield receiver
