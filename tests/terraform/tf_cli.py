"""Terraform, run for real from the tests: the binary, the provider mirror, init/validate/console.

Terraform and its providers come from the machine, never from the network: the
binary on PATH (or /usr/local/bin) and a provider filesystem mirror (a directory
holding ``registry.terraform.io``; /opt/tf-plugins here). A configuration that needs a
provider the mirror lacks cannot be initialised; ``KEPT_OUT`` names those and why, and
a test keeps that list honest. Each configuration is validated in a copy of terraform/
(init writes ``.terraform`` and a lock file), with providers symlinked from the mirror
(the ``terraform_env`` fixture in conftest.py writes that CLI configuration).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.terraform import tf_model

MIRROR_CANDIDATES = (Path("/opt/tf-plugins"), Path.home() / ".terraform.d" / "plugins",
                     Path("/usr/local/share/terraform/plugins"))
# Configuration -> the provider it needs that the mirror here lacks.
KEPT_OUT = {
    "modules/airbyte": "airbytehq/airbyte",
    "modules/platform": "airbytehq/airbyte",  # calls modules/airbyte
    "environments/dev": "airbytehq/airbyte",
    "environments/prod": "airbytehq/airbyte",
}


def terraform_binary() -> str:
    found = shutil.which("terraform") or ("/usr/local/bin/terraform" if Path("/usr/local/bin/terraform").exists() else None)
    if not found:
        pytest.fail("terraform is not installed: the Terraform checks need terraform 1.11 on PATH", pytrace=False)
    return found


def mirror() -> Path:
    for candidate in MIRROR_CANDIDATES:
        if (candidate / "registry.terraform.io").is_dir():
            return candidate
    pytest.fail(f"no Terraform provider mirror (registry.terraform.io) under any of {MIRROR_CANDIDATES}", pytrace=False)


def mirrored(mirror: Path) -> set[str]:
    return {f"{ns.name}/{p.name}" for ns in (mirror / "registry.terraform.io").iterdir() for p in ns.iterdir()}


def needed(config: Path) -> set[str]:
    """Provider sources a configuration needs, its called local modules' included."""
    text = "\n".join(p.read_text() for p in config.glob("*.tf"))
    sources = set(re.findall(r'source\s*=\s*"([a-z0-9-]+/[a-z0-9-]+)"', text))
    for module in re.findall(r'source\s*=\s*"(\.\.?/[^"]+)"', text):
        sources |= needed((config / module).resolve())
    return {s for s in sources if not s.startswith((".", "/"))}


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([terraform_binary(), *args, "-no-color"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def copy_repo(dest: Path) -> Path:
    """A copy of the repository (what modules read: terraform/ and the files MWAA gets)."""
    shutil.copytree(tf_model.REPO_ROOT, dest, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".venvs", ".runtime", "__pycache__", ".terraform", "*.tfstate*", "node_modules"))
    return dest


def terraform_console(module: str, expression: str, variables: dict[str, object], env: dict[str, str],
                      workdir: Path) -> object:
    """Evaluate ``expression`` in terraform/modules/<module> with ``variables`` (terraform console)."""
    where = copy_repo(workdir / "repo") / "terraform" / "modules" / module
    (where / "test.auto.tfvars.json").write_text(json.dumps(variables))
    done = run(["init", "-backend=false", "-input=false"], where, env)
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run([terraform_binary(), "console"], input=f"jsonencode({expression})\n", cwd=where, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(json.loads(done.stdout.strip()))
