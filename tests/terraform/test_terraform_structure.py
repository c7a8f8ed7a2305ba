"""Structure of terraform/: pinned versions, tags, wiring between modules and
environments, and outputs named after the application settings."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from tests.terraform import tf_model
from tests.terraform.tf_model import parse_blocks

EXPECTED_MODULES = {
    "kms", "network", "data_lake", "msk", "rds_postgres", "redshift",
    "ecr", "stream_services", "mwaa", "airbyte",
    "platform",  # composition of all the others, called once by each environment
    "hardened_bucket",  # the private, encrypted, logged, TLS-only bucket of data_lake and mwaa
}
APP_SETTING_OUTPUTS = {
    "DAAS_KAFKA_BOOTSTRAP_SERVERS",
    "DAAS_S3_BUCKET",
    "DAAS_S3_PREFIX",
    "DAAS_RDS_DSN_SECRET_ARN",
    "DAAS_WAREHOUSE_DSN_SECRET_ARN",
    "DAAS_REDSHIFT_CLUSTER_ID",
    "DAAS_REDSHIFT_COPY_ROLE_ARN",
    "DAAS_AIRBYTE_CONNECTION_ID",
}
EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


def _terraform_settings(config: tf_model.ConfigDir) -> dict:
    blocks = config.of("terraform")
    assert len(blocks) == 1, f"{config.path}: expected one terraform block, found {len(blocks)}"
    return blocks[0].body


def find_unpinned(settings: dict, required: set[str]) -> list[str]:
    """Version constraints in a terraform block that are not exact versions."""
    findings = []
    version = settings.get("required_version")
    if not (isinstance(version, str) and EXACT_VERSION.match(version)):
        findings.append(f"required_version {version!r} is not an exact version")
    providers: dict = {}
    for entry in settings.get("required_providers") or []:
        providers.update(entry)
    for name in sorted(required - set(providers)):
        findings.append(f"provider {name!r} missing from required_providers")
    for name, spec in providers.items():
        if not isinstance(spec, dict) or not spec.get("source"):
            findings.append(f"provider {name!r} has no source")
        elif not EXACT_VERSION.match(str(spec.get("version", ""))):
            findings.append(f"provider {name!r} version {spec.get('version')!r} is not an exact version")
    return findings


def test_tree_has_every_module_and_both_environments(modules, environments):
    assert set(modules) == EXPECTED_MODULES
    assert set(environments) == {"dev", "prod"}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_environment_pins_terraform_and_every_provider_exactly(environments, env):
    settings = _terraform_settings(environments[env])
    assert find_unpinned(settings, {"aws", "airbyte"}) == []
    assert "s3" in {name for entry in settings.get("backend", []) for name in entry}


def test_unpinned_versions_are_flagged():
    [block] = parse_blocks(textwrap.dedent("""
        terraform {
          required_version = ">= 1.5"
          required_providers {
            aws = { source = "hashicorp/aws", version = "~> 5.0" }
          }
        }
    """))
    findings = find_unpinned(block.body, {"aws", "airbyte"})
    assert any("required_version" in f for f in findings)
    assert any("'aws' version" in f for f in findings)
    assert any("'airbyte' missing" in f for f in findings)


def test_modules_declare_provider_sources_and_configure_no_provider(modules):
    for name, config in modules.items():
        settings = _terraform_settings(config)
        providers = {k: v for entry in settings.get("required_providers", []) for k, v in entry.items()}
        assert providers.get("aws", {}).get("source") == "hashicorp/aws", name
        # A provider block inside a module would bypass the environment's default_tags.
        assert config.of("provider") == [], f"module {name} configures a provider"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_resource_is_tagged_through_default_tags(environments, env):
    config = environments[env]
    assert tf_model.find_missing_default_tags(list(config.blocks)) == []
    [provider] = [b for b in config.of("provider") if b.name == "aws"]
    tags = provider.body["default_tags"][0]["tags"]
    assert tags["environment"] == "${local.environment}"
    assert config.locals()["environment"] == env


def test_missing_default_tag_keys_are_flagged():
    blocks = parse_blocks(textwrap.dedent("""
        provider "aws" {
          region = "af-south-1"
          default_tags {
            tags = { project = "daas", environment = "dev" }
          }
        }
    """))
    assert tf_model.find_missing_default_tags(blocks) == [
        "provider aws default_tags lacks 'owner'",
        "provider aws default_tags lacks 'data-classification'",
    ]
    assert tf_model.find_missing_default_tags(parse_blocks('provider "aws" {\n  region = "x"\n}\n')) != []


def _module_outputs_for(config: tf_model.ConfigDir) -> dict[str, set[str]]:
    outputs = {}
    for call in config.of("module"):
        target = (config.path / call.body["source"]).resolve()
        outputs[call.name] = set(tf_model.load_dir(target).outputs())
    return outputs


def test_every_reference_resolves(configs):
    findings = []
    for name, config in configs.items():
        for finding in tf_model.find_unresolved_references(config, _module_outputs_for(config)):
            findings.append(f"{name}: {finding}")
    assert findings == []


def test_unresolved_references_are_flagged(tmp_path: Path):
    (tmp_path / "main.tf").write_text(textwrap.dedent("""
        variable "name" {
          type = string
        }
        resource "aws_s3_bucket" "lake" {
          bucket = "${var.name}-${local.suffix}"
        }
        resource "aws_s3_bucket_versioning" "lake" {
          bucket = aws_s3_bucket.laek.id
        }
    """))
    findings = tf_model.find_unresolved_references(tf_model.load_dir(tmp_path))
    assert any("local.suffix" in f for f in findings)
    assert any("aws_s3_bucket.laek" in f for f in findings)
    assert not any("var.name" in f for f in findings)


def test_module_calls_match_module_variables(configs):
    # environments call modules/platform, which calls the other modules
    for name, config in configs.items():
        assert tf_model.find_bad_module_calls(config) == [], name


def test_bad_module_calls_are_flagged(tmp_path: Path):
    module = tmp_path / "modules" / "thing"
    module.mkdir(parents=True)
    (module / "variables.tf").write_text('variable "needed" {\n  type = string\n}\n')
    env = tmp_path / "env"
    env.mkdir()
    (env / "main.tf").write_text('module "thing" {\n  source = "../modules/thing"\n  typo = 1\n}\n')
    findings = tf_model.find_bad_module_calls(tf_model.load_dir(env))
    assert "module thing: argument 'typo' is not a variable of ../modules/thing" in findings
    assert "module thing: required variable 'needed' not set" in findings


def test_dev_and_prod_wire_the_same_modules_and_outputs(environments):
    dev, prod = environments["dev"], environments["prod"]
    assert {b.name: b.body["source"] for b in dev.of("module")} == {
        b.name: b.body["source"] for b in prod.of("module")
    }
    assert set(dev.outputs()) == set(prod.outputs())
    assert set(dev.variables()) == set(prod.variables())


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_tfvars_set_declared_variables_and_every_required_one(environments, env):
    config = environments[env]
    tfvars = tf_model.load_tfvars(config.path / "terraform.tfvars")
    variables = config.variables()
    assert set(tfvars) - set(variables) == set()
    # Everything without a default comes from terraform.tfvars, except
    # secrets, which the deploy pipeline passes as TF_VAR_*.
    unset = {
        name for name, spec in variables.items()
        if "default" not in spec and name not in tfvars and spec.get("sensitive") is not True
    }
    assert unset == set()
    for name, spec in variables.items():
        if spec.get("sensitive") is True:
            assert name not in tfvars, f"secret {name} must not be committed in terraform.tfvars"


@pytest.mark.parametrize("env", ["dev", "prod", "modules/platform"])
def test_outputs_are_named_after_application_settings(configs, env):
    outputs = configs[env if "/" in env else f"environments/{env}"].outputs()
    assert APP_SETTING_OUTPUTS <= set(outputs)
    settings_map = outputs["application_settings"]["value"]
    assert set(settings_map) == APP_SETTING_OUTPUTS
    for name in APP_SETTING_OUTPUTS:
        assert outputs[name]["value"] == settings_map[name], name


_SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def find_unjustified_skips(text: str) -> list[str]:
    """checkov:skip comments without a reason of at least a few words."""
    findings = []
    for number, line in enumerate(text.splitlines(), 1):
        m = _SKIP.search(line)
        if m and len((m.group(2) or "").split()) < 4:
            findings.append(f"line {number}: {m.group(1)} skipped without a reason")
    return findings


def test_every_checkov_skip_is_justified_inline():
    skips = 0
    for tf in sorted(tf_model.TERRAFORM_DIR.rglob("*.tf")):
        text = tf.read_text(encoding="utf-8")
        skips += len(_SKIP.findall(text))
        assert find_unjustified_skips(text) == [], tf
    assert skips > 0
    script = (tf_model.REPO_ROOT / "scripts" / "checkov.sh").read_text(encoding="utf-8")
    assert "--skip-check" not in script and "--soft-fail" not in script


def test_unjustified_checkov_skips_are_flagged():
    assert find_unjustified_skips('  #checkov:skip=CKV_AWS_18\n  #checkov:skip=CKV_AWS_21:no\n') == [
        "line 1: CKV_AWS_18 skipped without a reason",
        "line 2: CKV_AWS_21 skipped without a reason",
    ]
