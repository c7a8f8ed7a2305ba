"""Redshift lifecycle: one controller (Airflow's DAG, on Terraform's schedule), the
COPY role, and the hours and cost the README says the schedule saves."""

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


REDSHIFT_VARS = {"name_prefix": "daas-test", "subnet_ids": ["subnet-1", "subnet-2"], "security_group_id": "sg-1",
                 "kms_key_arn": "arn:aws:kms:af-south-1:123456789012:key/k", "log_kms_key_arn": "arn:aws:kms:af-south-1:123456789012:key/l",
                 "lake_bucket_arn": "arn:aws:s3:::lake", "lake_prefix": "encounters",
                 "lake_kms_key_arn": "arn:aws:kms:af-south-1:123456789012:key/k"}


def test_one_lifecycle_controller_airflow_runs_terraforms_schedule(configs, all_blocks):
    # No Redshift scheduled action and no role for the Redshift scheduler, anywhere.
    assert not [b.address for b in all_blocks if b.type == "aws_redshift_scheduled_action"]
    assert "scheduler.redshift.amazonaws.com" not in "\n".join(
        p.read_text() for p in tf_model.TERRAFORM_DIR.rglob("*.tf"))
    # The schedule reaches MWAA as [daas] options, which the lifecycle DAG reads.
    platform = configs["modules/platform"].one("module", "", "mwaa").body
    assert platform["airflow_options"] == "${module.redshift.lifecycle_airflow_options}"
    env = configs["modules/mwaa"].one("resource", "aws_mwaa_environment", "this").body
    assert "var.airflow_options" in env["airflow_configuration_options"]
    output = configs["modules/redshift"].outputs()["lifecycle_airflow_options"]
    assert "local.lifecycle_crons" in output["value"]


def test_the_dags_lifecycle_schedule_is_terraforms_and_keeps_the_readme_numbers(terraform_env, tmp_path, modules):
    from tests.terraform.tf_cli import terraform_console
    from warehouse.lifecycle import ClusterAction, LifecycleSchedule

    crons = terraform_console("redshift", "local.lifecycle_crons", REDSHIFT_VARS, terraform_env, tmp_path)
    schedule = LifecycleSchedule.from_conf(lambda section, key, fallback=None: crons.get(key, fallback))
    assert schedule.crons() == {ClusterAction.PAUSE: "0 20 * * 1-5", ClusterAction.RESUME: "0 6 * * 1-5",
                                ClusterAction.RESIZE_UP: "0 7 * * 1", ClusterAction.RESIZE_DOWN: "0 12 * * 1"}
    # The DAG's own defaults (no options set) are the same week.
    assert LifecycleSchedule().crons() == schedule.crons()
    # Replaying what the DAG does hour by hour gives the hours the module and README state.
    defaults = _defaults(modules["redshift"])
    assert simulate_dag_week(schedule, 1, None)[0] == simulate_week(defaults["pause_hour_utc"],
                                                                    defaults["resume_hour_utc"], 1, None)[0] == 98
    assert simulate_dag_week(schedule, 2, 4) == simulate_week(20, 6, 2, ("MON", 7, 12, 4))

    off = terraform_console("redshift", "local.lifecycle_crons", {**REDSHIFT_VARS, "schedule_enabled": False},
                            terraform_env, tmp_path / "off")
    assert LifecycleSchedule.from_conf(lambda section, key, fallback=None: off.get(key, fallback)).crons() == {}


def simulate_dag_week(schedule, nodes: int, heavy_nodes: int | None) -> tuple[int, int]:
    """Replay the lifecycle DAG's runs over a week (after a warm-up week): (paused hours, node-hours)."""
    from datetime import UTC, datetime, timedelta

    from warehouse.lifecycle import ClusterAction

    paused, size = True, nodes
    paused_hours = billed = 0
    monday = datetime(2026, 11, 2, tzinfo=UTC)
    for hour in range(2 * 168):
        when = monday + timedelta(hours=hour)
        try:
            action = schedule.action_at(when)
        except Exception:  # noqa: BLE001 - no run this hour
            action = None
        if action is ClusterAction.RESUME:
            paused = False
        elif action is ClusterAction.PAUSE:
            paused = True
        elif action is ClusterAction.RESIZE_UP and heavy_nodes and not paused:
            size = heavy_nodes
        elif action is ClusterAction.RESIZE_DOWN and not paused:
            size = nodes
        if hour >= 168:
            paused_hours += paused
            billed += 0 if paused else size
    return paused_hours, billed


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


def test_airbyte_connection_is_manual_incremental_deduped_on_each_tables_key(modules):
    airbyte = modules["airbyte"]
    connection = airbyte.one("resource", "airbyte_connection", "ops_to_warehouse").body
    assert connection["schedule"] == {"schedule_type": "manual"}
    streams = connection["configurations"]["streams"]
    assert expr(streams).startswith("[for table, stream in var.streams : {")
    assert 'sync_mode = "incremental_deduped_history"' in streams
    assert "cursor_field = [stream.cursor_field]" in streams
    assert "primary_key = [for column in stream.primary_key : [column]]" in streams
    # The keys agree with the local replicator's (tests/unit/sinks/test_event_tables.py).
    tables = _defaults(airbyte)["streams"]
    assert set(tables) == {"encounters", "surveillance_alerts", "dead_letters"}
    assert tables["encounters"] == {"primary_key": ["record_id"]}
    assert "cursor_field = optional(string, \"updated_at\")" in airbyte.variables()["streams"]["type"]
    assert expr(connection["source_id"]) == "airbyte_source.postgres.source_id"
    assert expr(connection["destination_id"]) == "airbyte_destination.redshift.destination_id"
    connectors = {b.name: b.body["connector_name"] for b in airbyte.of("data", "airbyte_connector_configuration")}
    assert connectors == {"postgres": "source-postgres", "redshift": "destination-redshift"}


def find_ungranted_streams(readme: str, streams: set[str], writer: str) -> list[str]:
    """Airbyte streams that step 2 of the first deployment does not let airbyte_reader read."""
    step = re.search(r"^2\. Create the database roles.*?(?=^3\. )", readme, flags=re.M | re.S)
    if step is None:
        return ["no step 2 (database roles) in terraform/README.md"]
    text = step.group(0)
    findings = [f"{table}: not named in step 2" for table in sorted(streams) if not re.search(rf"`{table}`", text)]
    publication = re.search(r"CREATE PUBLICATION \w+ FOR TABLE ([\w, ]+);", text)
    if publication is None or {t.strip() for t in publication.group(1).split(",")} != streams:
        findings.append("the CDC publication does not list exactly the streams")
    for grant in (rf"ALTER DEFAULT PRIVILEGES FOR ROLE {writer} IN SCHEMA public\s+GRANT SELECT ON TABLES TO airbyte_reader",
                  r"GRANT SELECT ON ALL TABLES IN SCHEMA public TO airbyte_reader"):
        if not re.search(grant, text):
            findings.append(f"missing: {grant}")
    return findings


def test_readme_lets_the_airbyte_reader_read_every_stream(modules):
    readme = (tf_model.TERRAFORM_DIR / "README.md").read_text(encoding="utf-8")
    streams = set(_defaults(modules["airbyte"])["streams"])
    writer = _defaults(modules["stream_services"])["rds_iam_db_user"]
    assert find_ungranted_streams(readme, streams, writer) == []
    # What the check catches: a stream step 2 does not name, a role that is not the writer.
    assert find_ungranted_streams(readme, streams | {"clinic_stock"}, writer) == [
        "clinic_stock: not named in step 2", "the CDC publication does not list exactly the streams"]
    assert len(find_ungranted_streams(readme, streams, "daas_other_writer")) == 1
