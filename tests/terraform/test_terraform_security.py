"""Security promises of terraform/: nothing public, every store encrypted,
least-privilege IAM (wildcards only where commented), raw PII topics readable
by the processors only, and network flows limited to what the pipeline uses."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from tests.terraform import tf_model
from tests.terraform.tf_model import Block, expr, parse_blocks


def _resources(all_blocks, type_: str) -> list[Block]:
    found = [b for b in all_blocks if b.kind == "resource" and b.type == type_]
    assert found, f"no {type_} in terraform/"
    return found


def _first(body: dict, key: str) -> dict:
    """The first (only) nested block called ``key``."""
    value = body[key]
    return value[0] if isinstance(value, list) else value


def _target(value: str) -> str:
    """``${aws_s3_bucket.lake.id}`` -> ``lake``."""
    e = expr(value) or ""
    m = re.match(r"aws_s3_bucket\.(\w+)\.(id|bucket|arn)$", e)
    assert m, f"expected a reference to an aws_s3_bucket in the same module, got {value!r}"
    return m.group(1)


def _per_bucket(config: tf_model.ConfigDir, type_: str) -> dict[str, Block]:
    return {_target(b.body["bucket"]): b for b in config.of("resource", type_)}


def _calls_of(modules: dict[str, tf_model.ConfigDir], name: str) -> list[tuple[str, Block]]:
    """(calling module, module block) for every call of modules/<name>."""
    return [
        (caller, call)
        for caller, config in modules.items()
        for call in config.of("module")
        if call.body.get("source") == f"../{name}"
    ]


# ------------------------------------------------------------ not public


def test_databases_and_warehouse_are_private(all_blocks):
    for b in _resources(all_blocks, "aws_db_instance") + _resources(all_blocks, "aws_redshift_cluster"):
        assert b.body.get("publicly_accessible") is False, b.address


def test_msk_has_public_access_disabled_and_no_unauthenticated_clients(all_blocks):
    for b in _resources(all_blocks, "aws_msk_cluster"):
        connectivity = _first(_first(b.body, "broker_node_group_info"), "connectivity_info")
        assert _first(connectivity, "public_access")["type"] == "DISABLED"
        auth = _first(b.body, "client_authentication")
        assert auth["unauthenticated"] is False
        assert _first(auth, "sasl") == {"iam": True, "scram": False}


def test_every_bucket_blocks_all_public_access(modules):
    buckets = 0
    for name, config in modules.items():
        blocks = _per_bucket(config, "aws_s3_bucket_public_access_block")
        # A bucket declared in a module called from other modules exists once per call.
        instances = len(_calls_of(modules, name)) if name == "hardened_bucket" else 1
        for bucket in config.of("resource", "aws_s3_bucket"):
            buckets += instances
            assert bucket.name in blocks, f"{bucket.address} has no public access block"
            body = blocks[bucket.name].body
            for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"):
                assert body[flag] is True, f"{bucket.address}: {flag}"
    assert buckets == 3  # lake, access logs, MWAA DAGs
    assert sorted((caller, call.name) for caller, call in _calls_of(modules, "hardened_bucket")) == [
        ("data_lake", "lake"), ("mwaa", "dags"),
    ]


def test_no_ingress_from_the_internet(all_blocks):
    assert tf_model.find_public_ingress(all_blocks) == []
    assert _resources(all_blocks, "aws_vpc_security_group_ingress_rule")


def test_internet_ingress_is_flagged():
    blocks = parse_blocks(textwrap.dedent("""
        resource "aws_vpc_security_group_ingress_rule" "bad" {
          security_group_id = "sg-1"
          cidr_ipv4         = "0.0.0.0/0"
          ip_protocol       = "tcp"
          from_port         = 5432
          to_port           = 5432
        }
        resource "aws_security_group" "legacy" {
          ingress {
            from_port        = 22
            to_port          = 22
            protocol         = "tcp"
            ipv6_cidr_blocks = ["::/0"]
          }
        }
    """))
    assert len(tf_model.find_public_ingress(blocks)) == 2


def test_tasks_and_subnets_get_no_public_ip(all_blocks):
    for service in _resources(all_blocks, "aws_ecs_service"):
        assert _first(service.body, "network_configuration")["assign_public_ip"] is False
    for subnet in _resources(all_blocks, "aws_subnet"):
        assert subnet.body["map_public_ip_on_launch"] is False, subnet.address


def test_airflow_web_server_is_private(all_blocks):
    [mwaa] = _resources(all_blocks, "aws_mwaa_environment")
    assert mwaa.body["webserver_access_mode"] == "PRIVATE_ONLY"


def test_stores_accept_only_the_pipeline_flows(modules):
    """The network module's flow list is the only way in: every rule
    references a security group, and each store has its known clients."""
    network = modules["network"]
    locals_ = network.locals()
    flows = re.findall(r'\{from = "?(\w+)"?, to = "(\w+)", port = ([\w.]+)', locals_["flows"])
    by_store: dict[str, set[str]] = {}
    for source, store, _port in flows:
        by_store.setdefault(store, set()).add(source)
    assert by_store["rds"] == {"w", "airbyte"}  # every entry of rds_writers, and Airbyte
    assert by_store["redshift"] == {"mwaa", "airbyte"}
    assert by_store["msk"] == {"c"}  # every entry of kafka_clients, and nothing else
    # Every ECS task is a Kafka client with a security group of its own; the RDS
    # writers are exactly the services ECS gives the ops DSN (DAAS_RDS_DSN).
    commands = modules["stream_services"].variables()["commands"]["default"]
    assert set(locals_["kafka_clients"]) == set(commands)
    dsn_holders = {service for service, secrets in
                   modules["platform"].one("module", "", "stream_services").body["service_secrets"].items()
                   if "DAAS_RDS_DSN" in secrets}
    assert set(locals_["rds_writers"]) == dsn_holders == {"postgres_sink", "alerts_sink", "dead_letters_sink"}
    [flow_ports] = [set(re.findall(r"to = \"msk\", port = (\d+)", locals_["flows"]))]
    assert flow_ports == {"9098"}  # IAM over TLS only; no plaintext 9092
    ingress = network.one("resource", "aws_vpc_security_group_ingress_rule", "flow").body
    assert "referenced_security_group_id" in ingress and "cidr_ipv4" not in ingress


def test_vpc_has_private_subnets_in_two_zones_and_an_s3_gateway_endpoint(modules):
    network = modules["network"]
    assert "length(var.availability_zones) == 2" in str(network.variables()["availability_zones"])
    endpoint = network.one("resource", "aws_vpc_endpoint", "s3").body
    assert endpoint["vpc_endpoint_type"] == "Gateway"
    assert network.one("resource", "aws_flow_log", "this").body["traffic_type"] == "ALL"


# ------------------------------------------------------------ encryption


def test_buckets_encrypted_versioned_logged_tls_only(modules):
    for config in modules.values():
        buckets = config.of("resource", "aws_s3_bucket")
        if not buckets:
            continue
        sse = _per_bucket(config, "aws_s3_bucket_server_side_encryption_configuration")
        versioning = _per_bucket(config, "aws_s3_bucket_versioning")
        logging = _per_bucket(config, "aws_s3_bucket_logging")
        lifecycle = _per_bucket(config, "aws_s3_bucket_lifecycle_configuration")
        policies = _per_bucket(config, "aws_s3_bucket_policy")
        log_targets = {
            _target(b.body["target_bucket"]) for b in logging.values() if expr(b.body["target_bucket"])
            and expr(b.body["target_bucket"]).startswith("aws_s3_bucket.")
        } | {
            _target(call.body["access_log_bucket_name"]) for call in config.of("module")
            if call.body.get("source") == "../hardened_bucket"
            and (expr(call.body["access_log_bucket_name"]) or "").startswith("aws_s3_bucket.")
        }
        for bucket in buckets:
            name = bucket.name
            default = _first(_first(sse[name].body, "rule"), "apply_server_side_encryption_by_default")
            if name in log_targets:
                # S3 server access logs can only be delivered to SSE-S3 buckets.
                assert default["sse_algorithm"] == "AES256", bucket.address
            else:
                assert default["sse_algorithm"] == "aws:kms", bucket.address
                assert default.get("kms_master_key_id"), bucket.address
                assert name in logging, f"{bucket.address} has no access logging"
            assert _first(versioning[name].body, "versioning_configuration")["status"] == "Enabled"
            assert name in lifecycle, f"{bucket.address} has no lifecycle rules"
            policy_doc = expr(policies[name].body["policy"]).split(".")[2]
            statements = list(tf_model.policy_statements(config.one("data", "aws_iam_policy_document", policy_doc).body))
            assert any(
                s.get("effect") == "Deny"
                and any(c.get("variable") == "aws:SecureTransport" and c.get("values") == ["false"] for c in s.get("condition", []))
                for s in statements
            ), f"{bucket.address} has no TLS-only (aws:SecureTransport) deny"


def test_lake_moves_older_parquet_to_standard_ia(modules):
    # The lake's rules are arguments of its hardened_bucket call...
    rules = modules["data_lake"].one("module", "", "lake").body["transition_rules"]
    assert [r["storage_class"] for r in rules] == ["STANDARD_IA"]
    [rule] = rules
    assert rule["prefix"] == "${var.lake_prefix}/"
    # ...which hardened_bucket turns into the only transition, filtered on that prefix.
    lifecycle = modules["hardened_bucket"].one("resource", "aws_s3_bucket_lifecycle_configuration", "this").body
    rule_blocks = [d["rule"] for d in lifecycle["dynamic"] if "rule" in d]
    transitions = [b for b in rule_blocks if "transition" in _first(b, "content")]
    assert [expr(b["for_each"]) for b in transitions] == ["var.transition_rules"]
    content = _first(transitions[0], "content")
    assert expr(_first(content, "transition")["storage_class"]) == "rule.value.storage_class"
    assert expr(_first(_first(content, "filter"), "and")["prefix"]) == "rule.value.prefix"


def test_rds_encrypted_backed_up_iam_auth_managed_password(all_blocks):
    [db] = _resources(all_blocks, "aws_db_instance")
    body = db.body
    assert body["storage_encrypted"] is True and body["kms_key_id"]
    assert body["manage_master_user_password"] is True and "password" not in body
    assert body["iam_database_authentication_enabled"] is True
    assert expr(body["backup_retention_period"]) == "var.backup_retention_days"
    assert body["deletion_protection"] == "${var.deletion_protection}"


def test_rds_parameter_group_enables_logical_replication_and_tls(all_blocks):
    [group] = _resources(all_blocks, "aws_db_parameter_group")
    params = {p["name"]: p["value"] for p in group.body["parameter"]}
    assert params["rds.logical_replication"] == "1"
    assert params["rds.force_ssl"] == "1"


def test_prod_database_is_deletion_protected_and_multi_az(environments):
    for env, expected in (("prod", True), ("dev", False)):
        tfvars = tf_model.load_tfvars(environments[env].path / "terraform.tfvars")
        assert tfvars["rds_deletion_protection"] is expected, env
        assert tfvars["rds_multi_az"] is expected, env
    # prod root -> modules/platform -> modules/rds_postgres, unchanged on the way.
    prod_call = environments["prod"].one("module", "", "platform").body
    assert prod_call["rds_deletion_protection"] == "${var.rds_deletion_protection}"
    assert prod_call["rds_multi_az"] == "${var.rds_multi_az}"
    platform = tf_model.load_dir((environments["prod"].path / prod_call["source"]).resolve())
    rds_call = platform.one("module", "", "rds").body
    assert rds_call["deletion_protection"] == "${var.rds_deletion_protection}"
    assert rds_call["multi_az"] == "${var.rds_multi_az}"


def test_redshift_private_encrypted_vpc_routed_ssl_only(all_blocks):
    [cluster] = _resources(all_blocks, "aws_redshift_cluster")
    body = cluster.body
    assert body["encrypted"] is True and body["kms_key_id"]
    assert body["enhanced_vpc_routing"] is True
    assert body["manage_master_password"] is True
    [group] = _resources(all_blocks, "aws_redshift_parameter_group")
    assert {p["name"]: p["value"] for p in group.body["parameter"]}["require_ssl"] == "true"
    assert expr(body["cluster_parameter_group_name"]) == "aws_redshift_parameter_group.this.name"


def test_msk_encrypts_in_transit_and_at_rest(all_blocks):
    [msk] = _resources(all_blocks, "aws_msk_cluster")
    encryption = _first(msk.body, "encryption_info")
    assert encryption["encryption_at_rest_kms_key_arn"]
    assert _first(encryption, "encryption_in_transit") == {"client_broker": "TLS", "in_cluster": True}


def test_log_groups_encrypted_with_retention(all_blocks):
    for group in _resources(all_blocks, "aws_cloudwatch_log_group"):
        assert group.body.get("kms_key_id"), group.address
        assert group.body.get("retention_in_days"), group.address


def test_ecr_immutable_scanned_kms(all_blocks):
    [repo] = _resources(all_blocks, "aws_ecr_repository")
    assert repo.body["image_tag_mutability"] == "IMMUTABLE"
    assert _first(repo.body, "image_scanning_configuration")["scan_on_push"] is True
    enc = _first(repo.body, "encryption_configuration")
    assert enc["encryption_type"] == "KMS" and enc["kms_key"]


def test_secrets_and_keys(all_blocks):
    for secret in _resources(all_blocks, "aws_secretsmanager_secret"):
        assert secret.body.get("kms_key_id"), secret.address
    for key in _resources(all_blocks, "aws_kms_key"):
        assert key.body["enable_key_rotation"] is True


def test_ecs_cluster_has_container_insights(all_blocks):
    [cluster] = _resources(all_blocks, "aws_ecs_cluster")
    assert {"name": "containerInsights", "value": "enabled"} in cluster.body["setting"]


# ----------------------------------------------------------------- IAM


def _tf_files() -> list[Path]:
    return sorted(tf_model.TERRAFORM_DIR.rglob("*.tf"))


def test_no_unjustified_wildcards_in_iam(configs):
    findings, documents = [], 0
    for config in configs.values():
        locals_ = config.locals()
        for path, text in config.texts.items():
            documents += text.count('data "aws_iam_policy_document"')
            findings += [f"{path.relative_to(tf_model.REPO_ROOT)}: {f}" for f in tf_model.find_unjustified_wildcards(text, locals_)]
    assert documents >= 15
    assert findings == []


def test_unjustified_wildcards_are_flagged():
    text = textwrap.dedent("""
        data "aws_iam_policy_document" "bad" {
          statement {
            actions   = ["s3:*"]
            resources = ["arn:aws:s3:::lake/*"]
          }
          statement {
            actions = ["ecr:GetAuthorizationToken"]
            resources = [
              "*", # wildcard-exception: no resource-level permissions for this action.
            ]
          }
          statement {
            actions   = ["logs:PutLogEvents"]
            # wildcard-exception: streams are created per task.
            resources = [local.streams]
          }
          statement {
            actions   = ["kms:Decrypt"]
            resources = [local.hidden]
          }
        }
    """)
    findings = tf_model.find_unjustified_wildcards(text, {"streams": "arn:x:*", "hidden": "arn:y:*"})
    assert len(findings) == 3, findings
    assert any("'s3:*'" in f for f in findings)
    assert any("arn:aws:s3:::lake/*" in f for f in findings)
    assert any("local.hidden" in f for f in findings)
    assert not any("GetAuthorizationToken" in f or "local.streams" in f for f in findings)


def test_policies_are_built_from_policy_documents(configs):
    findings = []
    for name, config in configs.items():
        findings += [f"{name}: {f}" for f in tf_model.find_non_document_policies(config)]
    assert findings == []


def test_inline_json_policies_are_flagged(tmp_path: Path):
    (tmp_path / "main.tf").write_text(textwrap.dedent("""
        resource "aws_iam_role_policy" "inline" {
          role   = "r"
          policy = jsonencode({ Statement = [{ Action = "*", Resource = "*", Effect = "Allow" }] })
        }
    """))
    assert len(tf_model.find_non_document_policies(tf_model.load_dir(tmp_path))) == 1


RAW_TOPIC_MARKERS = ("topic_arn.raw_", "health.raw.", "raw_simuhealth", "raw_gsheet")


def find_raw_topic_readers(blocks: list[Block]) -> set[str]:
    """Policy documents that grant kafka-cluster:ReadData on a raw topic, or
    on a topic wildcard broad enough to include one."""
    readers = set()
    for b in blocks:
        if b.kind != "data" or b.type != "aws_iam_policy_document":
            continue
        for statement in tf_model.policy_statements(b.body):
            actions = statement.get("actions") or []
            if not any(a in ("kafka-cluster:ReadData", "kafka-cluster:*") for a in actions):
                continue
            for resource in statement.get("resources") or []:
                broad = re.search(r"topic_arn_prefix\}/\*|:topic/\*|topic/[^\"]*/\*$", resource)
                if broad or any(m in resource for m in RAW_TOPIC_MARKERS):
                    readers.add(b.name)
    return readers


def test_raw_pii_topics_readable_only_by_processors(all_blocks):
    assert find_raw_topic_readers(all_blocks) == {"processor_task"}


def test_other_raw_topic_readers_are_flagged():
    blocks = parse_blocks(textwrap.dedent("""
        data "aws_iam_policy_document" "s3_sink_task" {
          statement {
            actions   = ["kafka-cluster:ReadData"]
            resources = [local.topic_arn.raw_gsheet]
          }
        }
        data "aws_iam_policy_document" "snoop_task" {
          statement {
            actions   = ["kafka-cluster:ReadData"]
            resources = ["${var.kafka_topic_arn_prefix}/*"]
          }
        }
    """))
    assert find_raw_topic_readers(blocks) == {"s3_sink_task", "snoop_task"}


def test_topic_defaults_are_the_applications(modules):
    """ECS sets no DAAS_TOPIC_*: the module's names must be the application's defaults."""
    from daas.settings import Topics

    topics = modules["stream_services"].variables()["topics"]["default"]
    assert topics == {name: field.default for name, field in Topics.model_fields.items()}
    assert topics["raw_simuhealth"] == "health.raw.simuhealth.v1" and topics["dlq"] == "health.dlq.v1"


def test_each_stage_has_its_own_task_and_execution_role(modules):
    services = modules["stream_services"]
    stages = set(services.variables()["sizing"]["default"])
    assert stages == {"simuhealth_producer", "sheet_poller", "processor", "surveillance", "s3_sink", "postgres_sink",
                      "alerts_sink", "dead_letters_sink"}
    task_policies = services.locals()["task_policy_json"]
    assert set(task_policies) == stages | {"topic_admin"}
    assert len({expr(v) for v in task_policies.values()}) == len(task_policies)  # no shared document
    definition = services.one("resource", "aws_ecs_task_definition", "this").body
    assert definition["execution_role_arn"] == "${aws_iam_role.execution[each.key].arn}"
    assert definition["task_role_arn"] == "${aws_iam_role.task[each.key].arn}"


@pytest.mark.parametrize("stage", ["processor", "surveillance", "s3_sink", "postgres_sink", "alerts_sink",
                                   "dead_letters_sink"])
def test_consumers_scale_out_on_cpu_with_optional_lag_tracking(modules, stage):
    services = modules["stream_services"]
    cpu = services.one("resource", "aws_appautoscaling_policy", "cpu").body
    config = _first(cpu, "target_tracking_scaling_policy_configuration")
    assert _first(config, "predefined_metric_specification")["predefined_metric_type"] == "ECSServiceAverageCPUUtilization"
    sizing = services.variables()["sizing"]["default"][stage]
    assert sizing["max_count"] > sizing["min_count"]
    lag = services.one("resource", "aws_appautoscaling_policy", "consumer_lag").body
    metric = _first(_first(lag, "target_tracking_scaling_policy_configuration"), "customized_metric_specification")
    assert metric["metric_name"] == "SumOffsetLag" and metric["namespace"] == "AWS/Kafka"
    assert "consumer_lag_target" in services.variables()
    assert stage in services.locals()["lag_source"]
