"""docker-compose.yaml is consistent: pinned, health-checked, dependencies that exist."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from daas.settings import Settings

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[3] / "docker-compose.yaml").read_text())
SERVICES = COMPOSE["services"]


def test_the_services_the_issue_names_are_there() -> None:
    assert {"kafka", "schema-registry", "minio", "minio-init", "rds", "warehouse", "airflow",
            "processor", "s3-sink", "postgres-sink", "simuhealth"} <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_image_is_pinned(name: str) -> None:
    image = SERVICES[name].get("image")
    assert image, f"{name} has no image"
    tag = image.rsplit(":", 1)[1] if ":" in image else ""
    assert tag and tag != "latest", f"{name}: {image} is not pinned"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_is_health_checked(name: str) -> None:
    check = SERVICES[name].get("healthcheck", {})
    assert check.get("test"), f"{name} has no healthcheck"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_dependencies_exist_and_have_conditions(name: str) -> None:
    for dep, spec in SERVICES[name].get("depends_on", {}).items():
        assert dep in SERVICES, f"{name} depends on unknown {dep}"
        assert spec.get("condition") in {"service_healthy", "service_started", "service_completed_successfully"}


def test_host_ports_match_the_settings_defaults() -> None:
    defaults = Settings.model_fields
    published = {name: [p.split(":")[-2] for p in svc.get("ports", [])] for name, svc in SERVICES.items()}
    assert str(defaults["stack_kafka_port"].default) in published["kafka"]
    assert str(defaults["stack_s3_port"].default) in published["minio"]
    assert str(defaults["stack_postgres_port"].default) in published["rds"]
    kafka_default = defaults["kafka_bootstrap_servers"].default
    assert kafka_default.endswith(":" + published["kafka"][0])
    assert defaults["s3_endpoint_url"].default.endswith(":" + published["minio"][0])


def test_published_ports_are_loopback_only() -> None:
    for name, svc in SERVICES.items():
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_pipeline_services_use_the_project_image_and_no_inline_secrets() -> None:
    for name in ("processor", "s3-sink", "postgres-sink", "simuhealth"):
        assert SERVICES[name]["image"].startswith("daas-health-pipeline:")
    text = (Path(__file__).resolve().parents[3] / "docker-compose.yaml").read_text()
    assert "PASSWORD: ${" in text and "password=" not in text.lower()
