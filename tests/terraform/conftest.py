"""Fixtures for the Terraform structural tests: every configuration directory
under terraform/, parsed once per session."""

from __future__ import annotations

import os

import pytest

from tests.terraform import tf_cli, tf_model


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


@pytest.fixture(scope="session")
def terraform_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    mirror = tf_cli.mirror()
    rc = tmp_path_factory.mktemp("tf") / "cli.tfrc"
    rc.write_text(f'plugin_cache_dir = "{mirror}"\n'
                  f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n'
                  '    include = ["registry.terraform.io/*/*"]\n  }\n}\n')
    return {**os.environ, "TF_CLI_CONFIG_FILE": str(rc), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1",
            "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE": "1", "TF_MIRROR": str(mirror)}
