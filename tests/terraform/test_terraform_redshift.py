"""Redshift lifecycle: the scheduled pause/resume/resize actions, the roles
they and COPY run as, and the hours and cost the README says they save."""

from __future__ import annotations

import re

from tests.terraform import tf_model
from tests.terraform.tf_model import expr

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def _first(body: dict, key: str) -> dict:
    value = body[key]
    return value[0] if isinstance(value, list) else value


def _defaults(config: tf_model.ConfigDir) -> dict:
    return {name: spec.get("default") for name, spec in config.variables().items()}


def _statements(config: tf_model.ConfigDir, document: str) -> list[dict]:
    return list(tf_model.policy_statements(config.one("data", "aws_iam_policy_document", document).body))


def test_scheduled_actions_pause_resume_and_resize(modules):
    redshift = modules["redshift"]
    actions = {b.name: _first(b.body, "target_action") for b in redshift.of("resource", "aws_redshift_scheduled_action")}
    assert set(actions) == {"pause", "resume", "resize"}
    assert set(actions["pause"]) == {"pause_cluster"}
    assert set(actions["resume"]) == {"resume_cluster"}
    assert set(actions["resize"]) == {"resize_cluster"}
    resize = _first(actions["resize"], "resize_cluster")
    assert resize["classic"] is False  # elastic resize: minutes, not hours
    for name, target in actions.items():
        [kind] = target
        assert _first(target, kind)["cluster_identifier"] == "${aws_redshift_cluster.this.cluster_identifier}", name
    # The resize is a pair (out, then back), so the cluster never stays large.
    for_each = redshift.one("resource", "aws_redshift_scheduled_action", "resize").body["for_each"]
    assert "out" in for_each and "back" in for_each
    schedules = {b.name: b.body["schedule"] for b in redshift.of("resource", "aws_redshift_scheduled_action")}
    assert schedules["pause"] == "cron(0 ${var.pause_hour_utc} ? * ${local.weekdays} *)"
    assert schedules["resume"] == "cron(0 ${var.resume_hour_utc} ? * ${local.weekdays} *)"
    assert redshift.locals()["weekdays"] == "MON-FRI"


def test_scheduler_role_trusts_the_redshift_scheduler_and_touches_only_the_cluster(modules):
    redshift = modules["redshift"]
    for action in redshift.of("resource", "aws_redshift_scheduled_action"):
        assert action.body["iam_role"] == "${aws_iam_role.scheduler.arn}"
    role = redshift.one("resource", "aws_iam_role", "scheduler").body
    assert role["assume_role_policy"] == "${data.aws_iam_policy_document.scheduler_trust.json}"
    [trust] = _statements(redshift, "scheduler_trust")
    assert trust["actions"] == ["sts:AssumeRole"]
    assert _first(trust, "principals") == {"type": "Service", "identifiers": ["scheduler.redshift.amazonaws.com"]}
    [policy] = _statements(redshift, "scheduler")
    assert set(policy["actions"]) == {"redshift:PauseCluster", "redshift:ResumeCluster", "redshift:ResizeCluster"}
    assert policy["resources"] == ["${aws_redshift_cluster.this.arn}"]


def test_copy_role_reads_only_the_lake_prefix_and_decrypts_with_the_lake_key(modules):
    redshift = modules["redshift"]
    statements = {s["sid"]: s for s in _statements(redshift, "copy")}
    assert {a for s in statements.values() for a in s["actions"]} == {"s3:GetObject", "s3:ListBucket", "kms:Decrypt"}
    assert statements["ReadLakePrefixOnly"]["resources"] == ["${var.lake_bucket_arn}/${var.lake_prefix}/*"]
    listing = statements["ListLakePrefixOnly"]
    assert listing["resources"] == ["${var.lake_bucket_arn}"]
    [condition] = listing["condition"]
    assert condition["variable"] == "s3:prefix"
    assert condition["values"] == ["${var.lake_prefix}", "${var.lake_prefix}/*"]
    assert statements["DecryptLakeObjects"]["resources"] == ["${var.lake_kms_key_arn}"]
    cluster = redshift.one("resource", "aws_redshift_cluster", "this").body
    assert cluster["iam_roles"] == ["${aws_iam_role.copy.arn}"]


def simulate_week(pause_hour: int, resume_hour: int, nodes: int, resize: tuple[str, int, int, int] | None) -> tuple[int, int]:
    """Replay the scheduled actions hour by hour over a week (after a warm-up
    week, so the state carried over the weekend is right).

    Returns (paused hours, node-hours billed). ``resize`` is (day, start hour,
    end hour, nodes during the window) or None.
    """
    paused, size = True, nodes
    paused_hours = billed = 0
    for hour in range(2 * 168):
        day, hod = WEEKDAYS[(hour // 24) % 7], hour % 24
        if day in WEEKDAYS[:5]:
            if hod == resume_hour:
                paused = False
            if hod == pause_hour:
                paused = True
        if resize and day == resize[0]:
            if hod == resize[1] and not paused:
                size = resize[3]
            if hod == resize[2] and not paused:
                size = nodes
        if hour >= 168:
            paused_hours += paused
            billed += 0 if paused else size
    return paused_hours, billed


def test_simulation_matches_a_hand_count():
    # Paused 20:00-06:00 on four weekday nights (4 x 10 h) and Fri 20:00 to Mon 06:00 (58 h).
    assert simulate_week(20, 6, 1, None) == (98, 70)
    assert simulate_week(22, 6, 1, None) == (88, 80)
    assert simulate_week(20, 6, 2, ("MON", 7, 12, 4)) == (98, 150)


def test_readme_states_the_hours_and_cost_the_default_schedule_saves(modules, environments):
    defaults = _defaults(modules["redshift"])
    prod = tf_model.load_tfvars(environments["prod"].path / "terraform.tfvars")
    nodes, heavy_nodes, price = prod["redshift_number_of_nodes"], prod["redshift_resize_number_of_nodes"], prod["redshift_node_hourly_price_usd"]
    window = (defaults["resize_day"], defaults["resize_start_hour_utc"], defaults["resize_end_hour_utc"], heavy_nodes)

    paused, _ = simulate_week(defaults["pause_hour_utc"], defaults["resume_hour_utc"], 1, None)
    _, billed = simulate_week(defaults["pause_hour_utc"], defaults["resume_hour_utc"], nodes, window)
    always_on = 168 * nodes
    net_saved = always_on - billed
    weekly_usd = net_saved * price

    readme = (tf_model.TERRAFORM_DIR / "README.md").read_text(encoding="utf-8")
    assert f"**{paused} paused hours per week**" in readme
    assert f"**{paused * nodes} node-hours**" in readme
    assert f"**{net_saved} node-hours per week**" in readme
    assert f"${weekly_usd:,.2f}" in readme
    assert "node_hourly_price_usd" in readme

    # The module computes the same figure for the outputs.
    locals_ = modules["redshift"].locals()
    assert locals_["paused_hours_per_week"] == "${4 * local.night_hours + (local.night_hours + 48)}"
    assert 4 * (24 - defaults["pause_hour_utc"] + defaults["resume_hour_utc"]) + (
        24 - defaults["pause_hour_utc"] + defaults["resume_hour_utc"] + 48
    ) == paused


def test_readme_maps_every_application_setting_output(environments):
    readme = (tf_model.TERRAFORM_DIR / "README.md").read_text(encoding="utf-8")
    for name in environments["prod"].outputs():
        if name.startswith("DAAS_"):
            assert re.search(rf"`{name}`", readme), name
    for env in ("dev", "prod"):
        assert f"environments/{env}" in readme
    assert "terraform init -backend-config=backend.hcl" in readme


def test_airbyte_connection_is_manual_incremental_deduped_on_record_id(modules):
    airbyte = modules["airbyte"]
    connection = airbyte.one("resource", "airbyte_connection", "ops_to_warehouse").body
    assert connection["schedule"] == {"schedule_type": "manual"}
    streams = connection["configurations"]["streams"]
    assert 'sync_mode = "incremental_deduped_history"' in streams
    assert "cursor_field = [var.cursor_field]" in streams and "primary_key = [[var.primary_key]]" in streams
    defaults = _defaults(airbyte)
    assert defaults["cursor_field"] == "updated_at" and defaults["primary_key"] == "record_id"
    assert expr(connection["source_id"]) == "airbyte_source.postgres.source_id"
    assert expr(connection["destination_id"]) == "airbyte_destination.redshift.destination_id"
    connectors = {b.name: b.body["connector_name"] for b in airbyte.of("data", "airbyte_connector_configuration")}
    assert connectors == {"postgres": "source-postgres", "redshift": "destination-redshift"}
