"""The Airflow environment is its own: Airflow 3 with its pins, and the project importable."""

from __future__ import annotations

import importlib.metadata as md

from packaging.version import Version


def test_airflow_3_with_its_own_croniter() -> None:
    assert Version(md.version("apache-airflow")) >= Version("3.3")
    # The reason for a separate environment: Airflow needs croniter>=6.2, Faust <6.
    assert Version(md.version("croniter")) >= Version("6.2")


def test_stream_only_packages_are_absent_and_project_code_is_importable() -> None:
    import importlib.util

    assert importlib.util.find_spec("faust") is None
    import warehouse  # noqa: F401 - the loader modules the DAGs call
    from daas.settings import load_settings

    assert load_settings().s3_bucket
