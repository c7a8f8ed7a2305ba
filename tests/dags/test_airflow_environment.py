"""The Airflow environment is the one MWAA runs: the Airflow version Terraform pins, its
providers, and the project importable without the stream services' packages."""

from __future__ import annotations

import importlib.metadata as md
import tomllib

from tests.dags.conftest import ROOT
from tests.terraform import tf_model


def _terraform_airflow_pins() -> dict[str, str]:
    """Every place terraform/ names the MWAA Airflow version: module defaults and tfvars."""
    variables = tf_model.load_dir(tf_model.TERRAFORM_DIR / "modules" / "mwaa").variables()
    pins = {"modules/mwaa": variables["airflow_version"]["default"]}
    for env in tf_model.environment_dirs():
        pins[f"environments/{env.name}"] = tf_model.load_tfvars(env / "terraform.tfvars")["mwaa_airflow_version"]
    return pins


def _extra_pins(extra: str) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for requirement in project["optional-dependencies"][extra]:
        name, _, version = requirement.partition("==")
        pins[name] = version
    return pins


def test_this_environment_runs_the_airflow_that_terraform_pins_for_mwaa() -> None:
    pins = _terraform_airflow_pins()
    installed = md.version("apache-airflow")
    assert set(pins.values()) == {installed}, f"MWAA pins {pins}, this environment has Airflow {installed}"
    assert _extra_pins("airflow")["apache-airflow"] == installed


def test_the_providers_are_the_pinned_ones() -> None:
    for name, version in _extra_pins("airflow").items():
        assert md.version(name) == version, name


def test_stream_only_packages_are_absent_and_project_code_is_importable() -> None:
    import importlib.util

    assert importlib.util.find_spec("faust") is None
    assert importlib.util.find_spec("confluent_kafka") is None
    import warehouse  # noqa: F401 - the loader modules the DAGs call
    from daas.settings import load_settings

    assert load_settings().s3_bucket
