"""Fixtures for the Terraform structural tests: every configuration directory
under terraform/, parsed once per session."""

from __future__ import annotations

import pytest

from tests.terraform import tf_model


@pytest.fixture(scope="session")
def configs() -> dict[str, tf_model.ConfigDir]:
    """Parsed configuration directories keyed by path relative to terraform/,
    e.g. "modules/redshift" or "environments/prod"."""
    loaded = {}
    for path in tf_model.config_dirs():
        loaded[str(path.relative_to(tf_model.TERRAFORM_DIR))] = tf_model.load_dir(path)
    assert loaded, "no Terraform configuration found under terraform/"
    return loaded


@pytest.fixture(scope="session")
def modules(configs) -> dict[str, tf_model.ConfigDir]:
    """Module directories keyed by module name."""
    return {k.split("/", 1)[1]: v for k, v in configs.items() if k.startswith("modules/")}


@pytest.fixture(scope="session")
def environments(configs) -> dict[str, tf_model.ConfigDir]:
    """Environment directories keyed by environment name."""
    return {k.split("/", 1)[1]: v for k, v in configs.items() if k.startswith("environments/")}


@pytest.fixture(scope="session")
def all_blocks(configs) -> list[tf_model.Block]:
    """Every block of every directory."""
    return [b for c in configs.values() for b in c.blocks]
