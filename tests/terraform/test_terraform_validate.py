"""`terraform fmt -check` on the tree and `terraform validate` on every module and root
whose providers this machine's mirror has (tests/terraform/tf_cli.py says how Terraform
runs here, and which configurations a missing provider keeps out)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.terraform import tf_cli, tf_model


def test_the_tree_is_terraform_fmt_clean(terraform_env: dict[str, str]) -> None:
    done = tf_cli.run(["fmt", "-check", "-recursive", "-diff"], tf_model.TERRAFORM_DIR, terraform_env)
    assert done.returncode == 0, f"terraform fmt would change:\n{done.stdout}{done.stderr}"


def test_only_configurations_needing_an_absent_provider_are_kept_out(terraform_env: dict[str, str]) -> None:
    mirrored = tf_cli.mirrored(Path(terraform_env["TF_MIRROR"]))
    for config in tf_model.config_dirs():
        name = str(config.relative_to(tf_model.TERRAFORM_DIR))
        missing = tf_cli.needed(config) - mirrored
        if name in tf_cli.KEPT_OUT:
            assert tf_cli.KEPT_OUT[name] in missing, f"{name} is kept out for {tf_cli.KEPT_OUT[name]}, which the mirror now has"
        else:
            assert not missing, f"{name} needs {sorted(missing)}, absent from the mirror; validate cannot run it"


def test_every_module_and_root_the_mirror_allows_validates(terraform_env: dict[str, str], tmp_path: Path) -> None:
    repo = tf_cli.copy_repo(tmp_path / "repo")
    configs = [c for c in tf_model.config_dirs() if str(c.relative_to(tf_model.TERRAFORM_DIR)) not in tf_cli.KEPT_OUT]
    assert len(configs) >= 10

    def validate(config: Path) -> str | None:
        where = repo / config.relative_to(tf_model.REPO_ROOT)
        for args in (["init", "-backend=false", "-input=false"], ["validate"]):
            done = tf_cli.run(args, where, terraform_env)
            if done.returncode != 0:
                return f"{config.relative_to(tf_model.TERRAFORM_DIR)}: terraform {args[0]}:\n{done.stdout}{done.stderr}"
        return None

    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = [f for f in pool.map(validate, configs) if f]
    assert not failures, "\n".join(failures)
