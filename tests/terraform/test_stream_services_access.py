"""Each ECS task role against what its stage's code does on Kafka (MSK IAM access control).

What a stage needs is taken from the code the task runs, never restated here: the ECS
command says which stage it is; the stage's topics, consumer groups and the topics it
creates come from the application (``daas.settings`` defaults, ``sinks.service``'s
runner for each sink kind, the processor's changelog and group names, the Faust app's
own table changelogs and leader topic, ``daas.kafka.pipeline_topics``). What a role may
do is taken from Terraform itself: ``terraform console`` evaluates every Kafka resource
of every task policy document in modules/stream_services, and the IAM actions come from
the parsed documents. Each role must allow everything its stage does and, over every
topic and group of the pipeline, nothing more: no stage reads, writes or creates
another's topics, or joins another's group.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from tests.terraform import tf_model
from tests.terraform.tf_cli import terraform_console

_K = "kafka-cluster:"
# The ARN prefixes, as terraform console sees them: "<kind>/<name>" (the cluster is "cluster").
ARN_VARIABLES = {"kafka_cluster_arn": "cluster", "kafka_topic_arn_prefix": "topic",
                 "kafka_group_arn_prefix": "group", "kafka_transactional_id_arn_prefix": "transactional-id"}
OTHER_VARIABLES = {
    "name_prefix": "daas-test", "image_repository_url": "ecr/daas", "image_repository_arn": "arn:ecr",
    "image_tag": "0.1.0", "common_environment": {}, "subnet_ids": ["subnet-1"], "security_group_ids": {},
    "kms_key_arn": "arn:kms", "log_kms_key_arn": "arn:kms-logs", "kafka_cluster_name": "daas-test",
    "lake_bucket_arn": "arn:s3", "lake_prefix": "encounters", "rds_instance_resource_id": "db-1",
}
INSTANCE_ID = "4f1c2e9a7b3d"  # a worker's instance id (DAAS_PROCESSOR_INSTANCE_ID, or drawn at start)


@dataclass(frozen=True)
class Needs:
    """What one stage does on Kafka."""

    read: frozenset[str] = frozenset()
    write: frozenset[str] = frozenset()
    create: frozenset[str] = frozenset()
    describe_configs: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    transactional_ids: frozenset[str] = frozenset()
    idempotent_producer: bool = True

    def topics(self) -> set[str]:
        return set(self.read | self.write | self.create | self.describe_configs)

    def grants(self) -> set[tuple[str, str]]:
        """(action, resource) pairs the stage cannot run without."""
        wanted = {(f"{_K}Connect", "cluster"), (f"{_K}DescribeCluster", "cluster")}
        if self.idempotent_producer:
            wanted.add((f"{_K}WriteDataIdempotently", "cluster"))
        for topic in self.topics():
            wanted.add((f"{_K}DescribeTopic", f"topic/{topic}"))
        wanted |= {(f"{_K}ReadData", f"topic/{t}") for t in self.read}
        wanted |= {(f"{_K}WriteData", f"topic/{t}") for t in self.write}
        wanted |= {(f"{_K}CreateTopic", f"topic/{t}") for t in self.create}
        wanted |= {(f"{_K}DescribeTopicDynamicConfiguration", f"topic/{t}") for t in self.describe_configs}
        for group in self.groups:
            wanted |= {(f"{_K}DescribeGroup", f"group/{group}"), (f"{_K}AlterGroup", f"group/{group}")}
        for tid in self.transactional_ids:
            wanted |= {(f"{_K}DescribeTransactionalId", f"transactional-id/{tid}"),
                       (f"{_K}AlterTransactionalId", f"transactional-id/{tid}")}
        return wanted


def _settings(runtime_dir: Path) -> Any:
    """The application's defaults (what ECS runs with: it sets no topic or group names),
    free of this process's DAAS_* environment."""
    from daas.settings import Settings, Topics

    return Settings.model_construct(topics=Topics.model_construct(), runtime_dir=runtime_dir)


def stage_needs(command: list[str], settings: Any) -> Needs:
    """What the stage that ``daas <command>`` starts does on Kafka, from its code."""
    t = settings.topics
    if command == ["process"]:
        from stream_processors.changelog import changelog_topic
        from stream_processors.worker import processor_group

        inputs = [t.raw_simuhealth, t.raw_gsheet]
        changelogs = {changelog_topic(settings.processor_app_id, topic) for topic in inputs}
        return Needs(read=frozenset({*inputs, *changelogs}), create=frozenset(changelogs),
                     write=frozenset({t.clean_lake, t.clean_ops, t.dlq, t.surveillance_cases, *changelogs}),
                     groups=frozenset(processor_group(settings, topic) for topic in inputs),
                     transactional_ids=frozenset({f"{settings.processor_app_id}-{INSTANCE_ID}"}))
    if command == ["surveil"]:
        from stream_processors.surveillance.app import create_app

        app = create_app(settings)
        internal = {table.changelog_topic.get_topic_name() for table in app.tables.values()}
        internal.add(app._leader_assignor._leader_topic_name)  # Faust's leader election topic
        return Needs(read=frozenset({t.surveillance_cases, *internal}), create=frozenset(internal),
                     write=frozenset({t.surveillance_counts, t.surveillance_alerts, *internal}),
                     groups=frozenset({app.conf.id}))
    if command[0] == "sink":
        from sinks.service import build_runner

        from pydantic import SecretStr

        runner = build_runner(settings.model_copy(update={"rds_dsn": SecretStr("postgresql://writer@rds/ops")}),
                              command[1])
        # Every sink dead-letters what it cannot write, except the dead-letters sink,
        # which reads the dead-letter topic and never writes to its own input.
        dead_letters = frozenset() if runner.topic == t.dlq else frozenset({t.dlq})
        return Needs(read=frozenset({runner.topic}), write=dead_letters, groups=frozenset({runner.group_id}))
    if command == ["produce", "simuhealth"]:
        return Needs(write=frozenset({t.raw_simuhealth}))
    if command == ["produce", "gsheet"]:
        # Its compacted checkpoint topic: created, its cleanup policy checked, read back at start.
        checkpoints = t.gsheet_checkpoints
        return Needs(write=frozenset({t.raw_gsheet, checkpoints}), read=frozenset({checkpoints}),
                     create=frozenset({checkpoints}), describe_configs=frozenset({checkpoints}))
    if command == ["topics", "create"]:
        from daas.kafka import pipeline_topics

        return Needs(create=frozenset(spec.name for spec in pipeline_topics(t, 1)), idempotent_producer=False)
    pytest.fail(f"no access model for `daas {' '.join(command)}`: add one for the new stage")


@dataclass(frozen=True)
class Role:
    """A task role's Kafka statements: (actions, resource patterns) as Terraform evaluates them."""

    statements: tuple[tuple[frozenset[str], tuple[str, ...]], ...]

    def allows(self, action: str, resource: str) -> bool:
        return any(action in actions and any(fnmatchcase(resource, p) for p in patterns)
                   for actions, patterns in self.statements)


@pytest.fixture(scope="module")
def stream_services() -> tf_model.ConfigDir:
    return tf_model.load_dir(tf_model.TERRAFORM_DIR / "modules" / "stream_services")


@pytest.fixture(scope="module")
def evaluated(stream_services: tf_model.ConfigDir, terraform_env: dict[str, str],
              tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every task role's Kafka statements, their resources evaluated by terraform console,
    and the consumer-lag scaling sources."""
    documents = {key: tf_model.expr(json_ref).split(".")[2]
                 for key, json_ref in stream_services.locals()["task_policy_json"].items()}
    kafka: dict[str, list[tuple[frozenset[str], list[str]]]] = {}
    for key, name in documents.items():
        body = stream_services.one("data", "aws_iam_policy_document", name).body
        kafka[key] = [(frozenset(s["actions"]), s["resources"]) for s in tf_model.policy_statements(body)
                      if any(a.startswith(_K) for a in s.get("actions", []))]
    flat = [resource for statements in kafka.values() for _, resources in statements for resource in resources]
    expression = "{resources = [" + ", ".join(json.dumps(r) for r in flat) + "], lag_source = local.lag_source}"
    done = terraform_console("stream_services", expression, {**ARN_VARIABLES, **OTHER_VARIABLES}, terraform_env,
                             tmp_path_factory.mktemp("stream-services"))
    values = dict(zip(flat, done["resources"], strict=True))
    roles = {key: Role(tuple((actions, tuple(values[r] for r in resources)) for actions, resources in statements))
             for key, statements in kafka.items()}
    return {"roles": roles, "lag_source": done["lag_source"]}


@pytest.fixture(scope="module")
def roles(evaluated: dict[str, Any]) -> dict[str, Role]:
    return evaluated["roles"]


@pytest.fixture(scope="module")
def needs(stream_services: tf_model.ConfigDir, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Needs]:
    settings = _settings(tmp_path_factory.mktemp("runtime"))
    commands = stream_services.variables()["commands"]["default"]
    return {key: stage_needs(command, settings) for key, command in commands.items()}


def test_every_task_role_is_modelled(roles: dict[str, Role], needs: dict[str, Needs]) -> None:
    assert set(roles) == set(needs), "a task role without an ECS command, or the reverse"
    assert {"processor", "surveillance", "alerts_sink", "dead_letters_sink"} <= set(needs)


@pytest.mark.parametrize("stage", ["simuhealth_producer", "sheet_poller", "processor", "surveillance", "s3_sink",
                                   "postgres_sink", "alerts_sink", "dead_letters_sink", "topic_admin"])
def test_each_role_allows_what_its_stage_does(roles: dict[str, Role], needs: dict[str, Needs], stage: str) -> None:
    missing = sorted(f"{action} on {resource}" for action, resource in needs[stage].grants()
                     if not roles[stage].allows(action, resource))
    assert missing == [], f"{stage}'s task role denies what the stage does: {missing}"


def test_no_role_reaches_another_stages_topics_or_groups(roles: dict[str, Role], needs: dict[str, Needs],
                                                         stream_services: tf_model.ConfigDir) -> None:
    pipeline = set(stream_services.variables()["topics"]["default"].values())
    topics = pipeline.union(*(n.topics() for n in needs.values()))
    groups = set().union(*(n.groups for n in needs.values()))
    tids = set().union(*(n.transactional_ids for n in needs.values())) | {f"daas-surveillance-{INSTANCE_ID}"}
    beyond = []
    for stage, role in roles.items():
        need = needs[stage]
        reach = {
            "reads": ({t for t in topics if role.allows(f"{_K}ReadData", f"topic/{t}")}, need.read),
            "writes": ({t for t in topics if role.allows(f"{_K}WriteData", f"topic/{t}")}, need.write),
            "creates": ({t for t in topics if role.allows(f"{_K}CreateTopic", f"topic/{t}")}, need.create),
            "joins": ({g for g in groups if role.allows(f"{_K}AlterGroup", f"group/{g}")}, need.groups),
            "uses transactional ids": (
                {i for i in tids if role.allows(f"{_K}AlterTransactionalId", f"transactional-id/{i}")},
                need.transactional_ids),
        }
        beyond += [f"{stage} {what} {sorted(allowed - needed)}" for what, (allowed, needed) in reach.items()
                   if allowed - needed]
    assert beyond == [], "task roles reach beyond what their stage does"


def test_lag_scaling_watches_a_group_and_topic_the_stage_consumes(evaluated: dict[str, Any],
                                                                  needs: dict[str, Needs]) -> None:
    """The CloudWatch dimensions of SumOffsetLag: a group or topic the stage does not use
    has no lag, and target tracking would never scale the stage out."""
    sources = evaluated["lag_source"]
    consumers = {stage for stage, need in needs.items() if need.groups}
    assert set(sources) == consumers
    for stage, source in sources.items():
        assert source["group"] in needs[stage].groups and source["topic"] in needs[stage].read, (stage, source)


def test_a_role_missing_a_grant_or_granting_too_much_is_caught() -> None:
    need = Needs(read=frozenset({"health.clean.ops.v1"}), write=frozenset({"health.dlq.v1"}),
                 groups=frozenset({"daas-postgres-sink"}))
    connect = (frozenset({f"{_K}Connect", f"{_K}DescribeCluster", f"{_K}WriteDataIdempotently"}), ("cluster",))
    read = (frozenset({f"{_K}DescribeTopic", f"{_K}ReadData"}), ("topic/health.clean.ops.v1",))
    group = (frozenset({f"{_K}AlterGroup", f"{_K}DescribeGroup"}), ("group/daas-postgres-sink",))
    no_dead_letters = Role((connect, read, group))
    assert {(a, r) for a, r in need.grants() if not no_dead_letters.allows(a, r)} == {
        (f"{_K}WriteData", "topic/health.dlq.v1"), (f"{_K}DescribeTopic", "topic/health.dlq.v1")}
    every_clean_topic = Role((connect, (read[0], ("topic/health.clean.*",)), group))
    assert every_clean_topic.allows(f"{_K}ReadData", "topic/health.clean.lake.v1")
    assert not every_clean_topic.allows(f"{_K}ReadData", "topic/health.raw.gsheet.v1")


def test_the_stages_run_with_the_ids_their_grants_are_built_on(stream_services: tf_model.ConfigDir,
                                                               terraform_env: dict[str, str], tmp_path: Path) -> None:
    """ECS gives the processor and surveillance their app ids from var.consumer_groups, over
    any other environment, so no variable can make a stage's groups and topics differ from
    its grants; the defaults are the application's, which docker-compose.yaml runs with."""
    settings = _settings(tmp_path / "runtime")
    groups = stream_services.variables()["consumer_groups"]["default"]
    assert (groups["processor"], groups["surveillance"]) == (settings.processor_app_id, settings.surveillance_app_id)
    clash = {"DAAS_PROCESSOR_APP_ID": "other", "DAAS_SURVEILLANCE_APP_ID": "other"}
    environment = terraform_console("stream_services", "local.environment", {
        **ARN_VARIABLES, **OTHER_VARIABLES, "common_environment": {**clash, "DAAS_METRICS_PORT": "9100"},
        "service_environment": {"processor": clash, "surveillance": clash}}, terraform_env, tmp_path)
    assert environment["processor"]["DAAS_PROCESSOR_APP_ID"] == settings.processor_app_id
    assert environment["surveillance"]["DAAS_SURVEILLANCE_APP_ID"] == settings.surveillance_app_id
    assert environment["alerts_sink"] == {**clash, "DAAS_METRICS_PORT": "9100"}  # the others: as given
