"""docker-compose.yaml as Docker Compose itself resolves it, checked against the images and
the real CLIs it runs.

There is no Docker engine here, so the file is loaded by compose-go, the library `docker
compose` uses (tests/deploy/composecheck, a small Go program pinned in its go.mod): it
interpolates, validates against the Compose specification and prints the resolved
project. The checks then hold each service to what it runs: the pipeline image's
ENTRYPOINT is `daas`, so every pipeline command must be a command of the real `daas`
CLI (`daas <command> --help` answers); the Airflow services' commands must be
commands of the pinned Airflow (`airflow <command> --help` in .venvs/airflow).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from daas.settings import Settings, Topics

ROOT = Path(__file__).resolve().parents[2]
LOADER = ROOT / "tests" / "deploy" / "composecheck"
SECRETS = {"POSTGRES_PASSWORD": "pg-test", "DAAS_S3_SECRET_ACCESS_KEY": "s3-test",
           "DAAS_PATIENT_KEY_SECRET": "patient-key-test", "AIRFLOW_JWT_SECRET": "jwt-test"}
PIPELINE_IMAGE = "daas-health-pipeline"
AIRFLOW_IMAGE = "daas-health-airflow"
# What the pipeline must run (commands of the `daas` CLI, after its ENTRYPOINT).
PIPELINE_COMMANDS = {("topics", "create"), ("process",), ("surveil",), ("sink", "s3"), ("sink", "postgres"),
                     ("sink", "alerts"), ("sink", "dead-letters"), ("produce", "simuhealth"), ("produce", "gsheet")}
AIRFLOW_COMMANDS = {"api-server", "scheduler", "dag-processor", "triggerer"}
TRIVIAL_CHECKS = re.compile(r"^\s*(true|exit 0|:|echo\b.*|test -[de] /proc/\S*|sleep \d+)\s*$")


@pytest.fixture(scope="session")
def composecheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The loader, built from its pinned go.mod/go.sum (modules from the Go proxy or the cache)."""
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        pytest.fail("go is not installed: the compose check builds a compose-go loader", pytrace=False)
    binary = tmp_path_factory.mktemp("composecheck") / "composecheck"
    done = subprocess.run([go, "build", "-mod=readonly", "-o", str(binary), "."], cwd=LOADER, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, f"building the compose-go loader failed:\n{done.stderr}"
    return binary


def load(composecheck: Path, text: str, workdir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Resolve ``text`` as docker-compose.yaml in ``workdir`` with only ``env`` set (no .env)."""
    (workdir / "docker-compose.yaml").write_text(text)
    return subprocess.run([str(composecheck), "-file", str(workdir / "docker-compose.yaml")], cwd=workdir,
                          env={"PATH": os.environ.get("PATH", ""), "HOME": str(workdir), **env},
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="session")
def project(composecheck: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    done = load(composecheck, (ROOT / "docker-compose.yaml").read_text(), tmp_path_factory.mktemp("compose"),
                **SECRETS)
    assert done.returncode == 0, f"compose-go refuses docker-compose.yaml:\n{done.stderr}"
    return json.loads(done.stdout)


@pytest.fixture(scope="session")
def services(project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return project["services"]


def _image_name(service: dict[str, Any]) -> str:
    return service["image"].rsplit(":", 1)[0]


def pipeline(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services.items() if _image_name(s) == PIPELINE_IMAGE}


def one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def _dockerfile(name: str) -> str:
    return (ROOT / name).read_text()


def _run_help(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=180, check=False,
                          cwd=ROOT, env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})


# ------------------------------------------------------------------ the loader


def test_compose_go_refuses_what_docker_compose_refuses(composecheck: Path, tmp_path: Path) -> None:
    text = (ROOT / "docker-compose.yaml").read_text()
    unset = load(composecheck, text, tmp_path, **{k: v for k, v in SECRETS.items() if k != "POSTGRES_PASSWORD"})
    assert unset.returncode != 0 and "set POSTGRES_PASSWORD in .env" in unset.stderr
    typo = load(composecheck, text.replace("    healthcheck:\n      test:", "    healthcheck:\n      tset:", 1),
                tmp_path, **SECRETS)
    assert typo.returncode != 0 and "tset" in typo.stderr


# ------------------------------------------------------------------ images


def test_every_image_is_pinned_by_tag(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image", "")
        tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
        assert tag and tag != "latest", f"{name}: image {image!r} is not pinned by tag"
    for dockerfile in ("Dockerfile", "Dockerfile.airflow"):
        [base] = re.findall(r"^FROM (\S+)", _dockerfile(dockerfile), flags=re.M)
        assert ":" in base and not base.endswith(":latest"), f"{dockerfile}: FROM {base}"


def test_the_project_images_are_built_here(services: dict[str, dict[str, Any]]) -> None:
    builds = {s["image"]: s["build"] for s in services.values() if s.get("build")}
    assert {_image_name({"image": i}) for i in builds} == {PIPELINE_IMAGE, AIRFLOW_IMAGE}
    for image, build in builds.items():
        dockerfile = Path(build["context"]) / build.get("dockerfile", "Dockerfile")
        expected = "Dockerfile.airflow" if image.startswith(AIRFLOW_IMAGE) else "Dockerfile"
        assert dockerfile.name == expected, image
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    copied = set(re.findall(r"^COPY (\S+) \./\1$", _dockerfile("Dockerfile"), flags=re.M))
    assert copied == set(wheel["packages"]), "the pipeline image must hold every package of the wheel"


# ------------------------------------------------------------------ topics


def test_topics_are_created_by_a_one_shot_before_any_pipeline_service(services: dict[str, dict[str, Any]]) -> None:
    assert services["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    [init] = [n for n, s in pipeline(services).items() if s.get("command") == ["topics", "create"]]
    assert one_shot(services[init])
    assert services[init]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name, service in pipeline(services).items():
        if name != init:
            assert service["depends_on"][init]["condition"] == "service_completed_successfully", name


# ------------------------------------------------------------------ commands


def test_the_pipeline_image_runs_the_daas_cli(services: dict[str, dict[str, Any]]) -> None:
    assert re.findall(r"^ENTRYPOINT (.+)$", _dockerfile("Dockerfile"), flags=re.M) == ['["daas"]']
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "daas" in scripts
    for name, service in pipeline(services).items():
        assert service.get("entrypoint") is None, f"{name} overrides the image's ENTRYPOINT"
    commands = {tuple(w for w in s["command"] if not w.startswith("-") and not w.isdigit())
                for s in pipeline(services).values()}
    assert commands == PIPELINE_COMMANDS


def test_every_pipeline_command_is_a_command_of_the_real_cli(services: dict[str, dict[str, Any]]) -> None:
    daas = ROOT / ".venv" / "bin" / "daas"
    runs = {}
    for name, service in pipeline(services).items():
        words = [w for w in service["command"] if not w.startswith("-") and not w.isdigit()]
        options = [w for w in service["command"] if w.startswith("--")]
        runs[name] = (words, options)
    runs["healthcheck"] = (["healthcheck"], [])
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = dict(zip(runs, pool.map(lambda item: _run_help([str(daas), *item[0]]), runs.values())))
    missing = {name: f"daas {' '.join(runs[name][0])}: {a.stderr.strip().splitlines()[-1:] or a.returncode}"
               for name, a in answers.items() if a.returncode != 0}
    assert not missing, f"commands the CLI does not have: {missing}"
    for name, (_, options) in runs.items():
        for option in options:
            assert option in answers[name].stdout, f"{name}: `daas ... --help` does not list {option}"


def test_every_airflow_service_runs_a_command_of_the_pinned_airflow(services: dict[str, dict[str, Any]]) -> None:
    airflow = ROOT / ".venvs" / "airflow" / "bin" / "airflow"
    assert airflow.exists(), "the Airflow environment (.venvs/airflow) is missing: run make setup"
    commands = [s["command"] for s in services.values() if _image_name(s) == AIRFLOW_IMAGE]
    assert {c[0] for c in commands if len(c) == 1} == AIRFLOW_COMMANDS
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda c: _run_help([str(airflow), *c]), commands))
    failed = [" ".join(c) for c, a in zip(commands, answers) if a.returncode != 0]
    assert not failed, f"not commands of Airflow: {failed}"


# ------------------------------------------------------------------ Airflow


def test_airflow_runs_as_its_services_on_a_metadata_database(services: dict[str, dict[str, Any]]) -> None:
    runs = {n: s for n, s in services.items() if _image_name(s) == AIRFLOW_IMAGE}
    [init] = [n for n, s in runs.items() if s["command"] == ["db", "migrate"]]
    assert one_shot(runs[init])
    for name, service in runs.items():
        conn = service["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        host = re.match(r"postgresql\+psycopg2://[^@]+@([^:/]+)", conn)
        assert host, f"{name}: metadata DB {conn!r} is not PostgreSQL"
        assert services[host.group(1)]["image"].startswith("postgres:"), name
        assert service["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert service["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] == SECRETS["AIRFLOW_JWT_SECRET"]
        if name != init:
            assert service["depends_on"][init]["condition"] == "service_completed_successfully", name
    assert runs[init]["depends_on"][host.group(1)]["condition"] == "service_healthy"


def test_the_airflow_image_is_the_pinned_airflow_with_the_projects_providers_and_code() -> None:
    text = _dockerfile("Dockerfile.airflow")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = dict(r.split("==") for r in project["optional-dependencies"]["airflow"])
    [base] = re.findall(r"^FROM (\S+)", text, flags=re.M)
    assert base == f"apache/airflow:{pins['apache-airflow']}-python3.11"
    assert "uv export --project /tmp/daas --frozen --extra airflow" in text  # the providers, as tested
    copied = set(re.findall(r"^COPY --chown=airflow:0 (\S+) /opt/daas/\1$", text, flags=re.M))
    from tests.terraform import tf_model

    mwaa_packages = tf_model.load_dir(ROOT / "terraform" / "modules" / "mwaa").locals()["project_packages"]
    assert copied == set(mwaa_packages), "the image needs the packages the DAGs import (what MWAA gets)"
    assert "COPY --chown=airflow:0 dags /opt/airflow/dags" in text and "ENV PYTHONPATH=/opt/daas" in text


# ------------------------------------------------------------------ health


def test_every_long_running_service_has_a_health_check_that_can_fail(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if one_shot(service):
            continue
        check = service.get("healthcheck") or {}
        test = check.get("test") or []
        assert test and test[0] in ("CMD", "CMD-SHELL") and not check.get("disable"), f"{name} has no health check"
        command = " ".join(test[1:])
        assert not TRIVIAL_CHECKS.match(command), f"{name}: {command!r} cannot fail"
    for name, service in pipeline(services).items():
        if not one_shot(service):
            assert service["healthcheck"]["test"] == ["CMD", "daas", "healthcheck"], name
            assert int(service["environment"]["DAAS_METRICS_PORT"]) > 1023, name


def test_one_shot_services_are_waited_for_not_health_checked(services: dict[str, dict[str, Any]]) -> None:
    awaited = {dep for s in services.values() for dep, spec in (s.get("depends_on") or {}).items()
               if spec["condition"] == "service_completed_successfully"}
    assert awaited == {n for n, s in services.items() if one_shot(s)}


# ------------------------------------------------------------------ runtime


def test_pipeline_services_run_as_a_non_root_user_with_a_writable_runtime_dir(
        services: dict[str, dict[str, Any]]) -> None:
    dockerfile = _dockerfile("Dockerfile")
    [user] = re.findall(r"^USER (\S+)$", dockerfile, flags=re.M)
    assert user.split(":")[0] not in ("root", "0")
    runtime = re.search(r"DAAS_RUNTIME_DIR=(\S+)", dockerfile).group(1)
    assert re.search(rf"install -d -o {user.split(':')[0]} -g \S+ -m 07\d\d {re.escape(runtime)}", dockerfile)
    for name, service in pipeline(services).items():
        assert service.get("user") in (None, "") or service["user"].split(":")[0] not in ("root", "0"), name
        if one_shot(service):
            continue
        assert service["environment"]["DAAS_RUNTIME_DIR"] == runtime, name
        mounts = {v["target"]: v for v in service.get("volumes", [])}
        assert runtime in mounts and mounts[runtime]["type"] == "volume", f"{name}: no volume at {runtime}"
        assert not mounts[runtime].get("read_only"), name


def test_every_daas_variable_is_a_setting_and_the_s3_sink_gets_data(services: dict[str, dict[str, Any]]) -> None:
    known = {f"DAAS_{n.upper()}" for n in Settings.model_fields} | {f"DAAS_TOPIC_{n.upper()}" for n in Topics.model_fields}
    for name, service in services.items():
        unknown = {k for k in (service.get("environment") or {}) if k.startswith("DAAS_")} - known
        assert not unknown, f"{name}: {sorted(unknown)} are not settings (daas.settings rejects them at start-up)"
    commands = {tuple(s["command"][:2]) for s in pipeline(services).values()}
    for name, service in pipeline(services).items():
        routes = Settings(routes=json.loads(service["environment"]["DAAS_ROUTES"])).routes
        for source in ("simuhealth", "gsheet"):
            if ("produce", source) in commands:
                assert "lake" in routes.get(source, []) and "ops" in routes.get(source, []), (name, source)
    assert ("sink", "s3") in commands and ("sink", "postgres") in commands
    poller = [s for s in pipeline(services).values() if s["command"][:2] == ["produce", "gsheet"]]
    assert poller[0]["environment"]["DAAS_GSHEET_LOCAL_PATH"]


# ------------------------------------------------------------------ host side


def test_host_ports_are_loopback_and_match_the_settings_defaults(services: dict[str, dict[str, Any]]) -> None:
    published = {name: {int(p["published"]) for p in s.get("ports", [])} for name, s in services.items()}
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} beyond loopback"
    defaults = Settings.model_fields
    assert defaults["stack_kafka_port"].default in published["kafka"]
    assert defaults["stack_s3_port"].default in published["minio"]
    assert defaults["stack_postgres_port"].default in published["rds"]
    assert defaults["kafka_bootstrap_servers"].default.endswith(f":{defaults['stack_kafka_port'].default}")


def test_no_secret_is_written_in_the_file() -> None:
    text = (ROOT / "docker-compose.yaml").read_text()
    for key in ("PASSWORD", "SECRET"):
        for line in text.splitlines():
            if re.search(rf"{key}[A-Z_]*: ", line):
                assert "${" in line, f"a literal secret: {line.strip()}"


# ------------------------------------------------------------------ ECS


ECS_TO_COMPOSE = {"simuhealth_producer": "simuhealth", "sheet_poller": "sheet-poller", "processor": "processor",
                  "surveillance": "surveillance", "s3_sink": "s3-sink", "postgres_sink": "postgres-sink",
                  "alerts_sink": "alerts-sink", "dead_letters_sink": "dead-letters-sink", "topic_admin": "topics"}


def test_ecs_runs_the_commands_compose_runs_on_the_same_entrypoint(services: dict[str, dict[str, Any]]) -> None:
    from tests.terraform import tf_model

    stream = tf_model.load_dir(ROOT / "terraform" / "modules" / "stream_services")
    commands = stream.variables()["commands"]["default"]
    assert set(commands) == set(ECS_TO_COMPOSE)
    for ecs, compose in ECS_TO_COMPOSE.items():
        words = [w for w in services[compose]["command"] if not w.startswith("-") and not w.isdigit()]
        assert commands[ecs] == words, f"ECS {ecs} runs {commands[ecs]}, compose {compose} runs {words}"
    # ECS's command replaces the image's CMD and keeps its ENTRYPOINT (`daas`).
    task = stream.one("resource", "aws_ecs_task_definition", "this").body["container_definitions"]
    assert "command = var.commands[each.key]" in task and "entryPoint" not in task
    assert 'command = ["CMD", "daas", "healthcheck"]' in task  # the check compose runs


def test_ecs_sets_only_real_settings(services: dict[str, dict[str, Any]]) -> None:
    from tests.terraform import tf_model

    platform = tf_model.load_dir(ROOT / "terraform" / "modules" / "platform").one("module", "", "stream_services").body
    module = tf_model.load_dir(ROOT / "terraform" / "modules" / "stream_services").locals()["module_environment"]
    ecs = set(platform["common_environment"]) | {k for env in platform["service_environment"].values() for k in env}
    ecs |= {k for env in module.values() for k in env}
    assert {"DAAS_PROCESSOR_APP_ID", "DAAS_SURVEILLANCE_APP_ID"} <= ecs
    known = {f"DAAS_{n.upper()}" for n in Settings.model_fields} | {f"DAAS_TOPIC_{n.upper()}" for n in Topics.model_fields}
    assert ecs - known == set(), f"not settings: {sorted(ecs - known)}"
    assert platform["common_environment"]["DAAS_METRICS_PORT"] == services["processor"]["environment"]["DAAS_METRICS_PORT"]


def _rds_sink_kinds(tmp_path: Path) -> set[str]:
    """The sink kinds whose code refuses to start without DAAS_RDS_DSN: the RDS writers."""
    from daas.errors import ConfigurationError
    from sinks.service import KINDS, build_runner

    kinds = set()
    for kind in KINDS:
        try:
            build_runner(Settings.model_construct(topics=Topics.model_construct(), runtime_dir=tmp_path), kind)
        except ConfigurationError as exc:
            assert "DAAS_RDS_DSN" in str(exc), exc
            kinds.add(kind)
    return kinds


def test_every_sink_the_cli_has_runs_in_compose_and_on_ecs(services: dict[str, dict[str, Any]]) -> None:
    from sinks.service import KINDS
    from tests.terraform import tf_model

    ecs = tf_model.load_dir(ROOT / "terraform" / "modules" / "stream_services").variables()["commands"]["default"]
    assert {tuple(s["command"][1:2]) for s in pipeline(services).values() if s["command"][0] == "sink"} \
        == {(kind,) for kind in KINDS}
    assert {tuple(c[1:2]) for c in ecs.values() if c[0] == "sink"} == {(kind,) for kind in KINDS}


def test_the_rds_sinks_wait_for_rds_and_write_to_it_in_compose_and_on_ecs(
        services: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    from tests.terraform import tf_model

    rds_kinds = _rds_sink_kinds(tmp_path)
    assert rds_kinds == {"postgres", "alerts", "dead-letters"}
    writers = {n for n, s in pipeline(services).items() if s["command"][0] == "sink" and s["command"][1] in rds_kinds}
    assert len(writers) == len(rds_kinds)
    for name in writers:
        service = services[name]
        assert service["depends_on"].get("rds", {}).get("condition") == "service_healthy", f"{name} starts before RDS"
        host = re.match(r"postgresql://[^@]+@([^:/]+)", service["environment"]["DAAS_RDS_DSN"])
        assert host and host.group(1) == "rds", f"{name} writes to {service['environment']['DAAS_RDS_DSN']!r}"
    # On ECS: the ops DSN secret goes to exactly these services, and only they reach RDS.
    terraform = ROOT / "terraform" / "modules"
    commands = tf_model.load_dir(terraform / "stream_services").variables()["commands"]["default"]
    ecs_writers = {k for k, c in commands.items() if c[0] == "sink" and c[1] in rds_kinds}
    call = tf_model.load_dir(terraform / "platform").one("module", "", "stream_services").body
    dsn = {k for k, secrets in call["service_secrets"].items() if secrets.get("DAAS_RDS_DSN")}
    assert dsn == ecs_writers and {call["service_secrets"][k]["DAAS_RDS_DSN"] for k in dsn} \
        == {"${module.rds.dsn_secret_arn}"}
    assert set(tf_model.load_dir(terraform / "network").locals()["rds_writers"]) == ecs_writers
