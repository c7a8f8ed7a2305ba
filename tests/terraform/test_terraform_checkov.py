"""Checkov over terraform/, run from its own pinned environment by
scripts/checkov.sh. A checkov environment that cannot be created fails the
test: a security scan that silently did not run is worse than a red build."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.terraform import tf_model

SCRIPT = tf_model.REPO_ROOT / "scripts" / "checkov.sh"
# Creating the environment downloads checkov once (about a minute on a cold
# cache); a scan of terraform/ takes 10-20 s on a 2-core machine.
TIMEOUT_S = 900


def run_checkov(target: Path | None = None) -> dict:
    """Run scripts/checkov.sh and return its JSON report (one framework)."""
    env = dict(os.environ)
    if target is not None:
        env["CHECKOV_TARGET_DIR"] = str(target)
    proc = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=tf_model.REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if proc.returncode not in (0, 1):  # 1 = checks failed; anything else = did not run
        pytest.fail(f"scripts/checkov.sh exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        pytest.fail(f"checkov printed no JSON report ({exc}):\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-4000:]}")
    if isinstance(report, list):  # one entry per framework when several ran
        [report] = [r for r in report if r.get("check_type") == "terraform"]
    return report


def _describe(check: dict) -> str:
    return f"{check['check_id']} {check['resource']} ({check['file_path']}): {check.get('check_name', '')}"


@pytest.mark.timeout(TIMEOUT_S + 60)
def test_checkov_finds_no_failed_checks():
    report = run_checkov()
    summary = report["summary"]
    failed = report["results"].get("failed_checks", [])
    assert not failed, "checkov failed checks:\n" + "\n".join(_describe(c) for c in failed)
    assert summary["failed"] == 0
    assert summary["parsing_errors"] == 0, "checkov could not parse some files"
    assert summary["resource_count"] >= 100 and summary["passed"] >= 300, summary
    # Every skip comes from an inline #checkov:skip with a reason.
    for check in report["results"].get("skipped_checks", []):
        reason = (check.get("check_result") or {}).get("suppress_comment") or ""
        assert len(reason.split()) >= 4, f"skip without reason: {_describe(check)}"


@pytest.mark.timeout(TIMEOUT_S + 60)
def test_checkov_catches_an_insecure_snippet(tmp_path: Path):
    (tmp_path / "main.tf").write_text(textwrap.dedent("""
        resource "aws_db_instance" "open" {
          identifier          = "open"
          engine              = "postgres"
          instance_class      = "db.t4g.micro"
          allocated_storage   = 20
          username            = "admin"
          password            = "not-a-secret"
          publicly_accessible = true
          storage_encrypted   = false
        }
    """))
    report = run_checkov(tmp_path)
    failed_ids = {c["check_id"] for c in report["results"].get("failed_checks", [])}
    assert {"CKV_AWS_16", "CKV_AWS_17"} <= failed_ids  # unencrypted storage, public instance
