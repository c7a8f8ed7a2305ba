"""Typed settings for every stage, read once at start-up.

Values come from, in order of precedence: ``DAAS_*`` environment variables, then the
connection file that ``daas stack up`` writes into the runtime folder (so a local
run needs no configuration at all), then the defaults below. An unknown ``DAAS_*``
variable is an error, so a typo fails at start-up instead of being ignored.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from daas.errors import ConfigurationError

__all__ = ["ENV_PREFIX", "Settings", "Topics", "effective_settings", "load_settings", "stack_env_file"]

ENV_PREFIX = "DAAS_"
_STACK_ENV_FILENAME = "stack.env"


class Topics(BaseSettings):
    """Topic names (DESIGN.md §3); every one can be overridden, e.g. DAAS_TOPIC_DLQ."""

    model_config = SettingsConfigDict(env_prefix="DAAS_TOPIC_", extra="forbid", frozen=True)

    raw_simuhealth: str = "health.raw.simuhealth.v1"
    raw_gsheet: str = "health.raw.gsheet.v1"
    clean_lake: str = "health.clean.lake.v1"
    clean_ops: str = "health.clean.ops.v1"
    dlq: str = "health.dlq.v1"
    surveillance_cases: str = "health.surveillance.cases.v1"  # repartitioned by district+diagnosis
    surveillance_counts: str = "health.surveillance.counts.v1"
    surveillance_alerts: str = "health.surveillance.alerts.v1"
    gsheet_checkpoints: str = "health.gsheet.checkpoints.v1"  # compacted; created by the sheet poller


class Settings(BaseSettings):
    """Everything a stage needs to reach its services."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, env_file_encoding="utf-8"
    )

    runtime_dir: Path = Path(".runtime")
    local_mode: bool = True
    # Every service logs to stderr: text, or one JSON object per line for collectors.
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    log_format: str = Field(default="text", pattern=r"^(text|json)$")
    # Every long-running service serves Prometheus /metrics and /healthz on this port
    # (off when unset); the host is loopback unless a scraper elsewhere needs 0.0.0.0.
    metrics_port: int | None = Field(default=None, ge=1024, le=65535)
    metrics_host: str = "127.0.0.1"

    # The local stack (`daas stack up`): where its servers listen and where the Java
    # artifacts fetched from Maven Central are cached between runtime folders.
    stack_host: str = "127.0.0.1"
    stack_kafka_port: int = Field(default=39092, ge=1024, le=65534)
    stack_s3_port: int = Field(default=39000, ge=1024, le=65535)
    stack_postgres_port: int = Field(default=35432, ge=1024, le=65535)
    stack_artifact_cache: Path = Path.home() / ".cache" / "daas" / "artifacts"

    kafka_bootstrap_servers: str = "127.0.0.1:39092"
    kafka_partitions: int = Field(default=3, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    # The largest record the topics accept (their max.message.bytes; Kafka's default).
    # Producers are configured to it, and a stage that meets a record too large to pass
    # on dead-letters its summary (``too_large``) instead of failing on it.
    kafka_max_message_bytes: int = Field(default=1_048_588, ge=65_536)
    schema_registry_url: str | None = None
    # The schema store readers resolve writers against (a folder like schemas/, with
    # history/): unset, the schemas this build ships. Set it to deploy a newly released
    # schema version to readers without rebuilding them.
    schema_dir: Path | None = None
    # Amazon MSK: "SASL_SSL" with DAAS_KAFKA_AUTH=aws_msk_iam (tokens signed locally with
    # the task role's credentials, for DAAS_KAFKA_AWS_REGION). Locally: PLAINTEXT, none.
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_auth: str = "none"
    kafka_aws_region: str | None = None

    s3_endpoint_url: str | None = "http://127.0.0.1:39000"
    s3_region: str = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_bucket: str = "daas-lake"
    s3_prefix: str = "encounters"

    rds_dsn: SecretStr | None = None
    warehouse_dsn: SecretStr | None = None

    patient_key_secret: SecretStr | None = None
    topics: Topics = Field(default_factory=Topics)

    # The sheet poller (`daas produce gsheet`), one spreadsheet per process: a Google
    # spreadsheet id (with service-account credentials from a key file outside the repo
    # or the key JSON from a secret store), or a local CSV or XLSX file, or a folder of them.
    gsheet_id: str | None = None
    gsheet_local_path: Path | None = None
    gsheet_tabs: list[str] = []
    gsheet_credentials_file: Path | None = None
    gsheet_credentials_json: SecretStr | None = None
    gsheet_poll_seconds: float = Field(default=60.0, gt=0)
    gsheet_reads_per_minute: int = Field(default=60, ge=1, le=6000)
    gsheet_max_retries: int = Field(default=8, ge=0)
    gsheet_api_base_url: str = "https://sheets.googleapis.com"

    # Processors: which clean topics each source's records go to ("lake" feeds the S3
    # sink, "ops" the Postgres sink), e.g. DAAS_ROUTES='{"simuhealth": ["lake", "ops"]}'.
    routes: dict[str, list[str]] = {"simuhealth": ["ops"], "gsheet": ["lake"]}
    processing_guarantee: str = "at_least_once"
    # Consumer group and prefix of the processor's internal topics (state changelogs).
    processor_app_id: str = "daas-processor"
    # Under exactly-once, the worker's transactional id is "<app id>-<instance id>":
    # give each worker slot a stable one (a StatefulSet ordinal, an ECS task slot) and
    # a restarted worker fences its dead predecessor at once; unset, each process
    # draws a random one and a dead worker's transaction is aborted by its timeout.
    processor_instance_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")
    # Records per batch: one decode, transform, produce and commit cycle.
    processor_batch_size: int = Field(default=5000, ge=1, le=100_000)
    # A re-sent record (same record_id, same or older source version) is forwarded
    # once within this window (measured on the input's timestamps); entries older than
    # the window are forgotten.
    dedup_window_hours: float = Field(default=7 * 24, gt=0)
    # The surveillance service (Faust): its consumer group and table prefix.
    surveillance_app_id: str = "daas-surveillance"
    # Weeks the live surveillance keeps per district, back from the newest week it
    # has seen; a case for an older week is late: it reaches the lake, not the live
    # counts. Must exceed the EARS baseline's reach (9 weeks); detection judges a
    # week only while its whole baseline is kept.
    surveillance_horizon_weeks: int = Field(default=16, ge=10, le=104)
    # Outbreak detection runs on these diagnosis groups: the epidemic-prone diseases of
    # WHO AFRO's Integrated Disease Surveillance and Response (IDSR) that the reference
    # ICD-10 list groups; chronic and non-communicable groups are counted, never alerted.
    surveillance_diseases: list[str] = ["cholera", "diarrhoeal", "malaria", "measles", "meningitis", "typhoid"]
    # Faust's HTTP view of the surveillance tables (off unless a port is given).
    surveillance_web_port: int | None = Field(default=None, ge=1024, le=65535)

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap_has_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(
                    f"{server!r} is not host:port; set DAAS_KAFKA_BOOTSTRAP_SERVERS "
                    "to a comma-separated list such as 127.0.0.1:39092"
                )
        return value

    @field_validator("routes")
    @classmethod
    def _known_routes(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for source, names in value.items():
            if source not in ("simuhealth", "gsheet"):
                raise ValueError(f"unknown source {source!r} in DAAS_ROUTES; sources: simuhealth, gsheet")
            unknown = set(names) - {"lake", "ops"}
            if unknown:
                raise ValueError(f"unknown route(s) {sorted(unknown)} for {source}; routes: lake, ops")
        return value

    @field_validator("kafka_security_protocol")
    @classmethod
    def _known_protocol(cls, value: str) -> str:
        if value not in ("PLAINTEXT", "SSL", "SASL_SSL"):
            raise ValueError(f"{value!r}: DAAS_KAFKA_SECURITY_PROTOCOL is PLAINTEXT, SSL or SASL_SSL")
        return value

    @field_validator("kafka_auth")
    @classmethod
    def _known_auth(cls, value: str) -> str:
        if value not in ("none", "aws_msk_iam"):
            raise ValueError(f"{value!r}: DAAS_KAFKA_AUTH is none or aws_msk_iam")
        return value

    @field_validator("processing_guarantee")
    @classmethod
    def _known_guarantee(cls, value: str) -> str:
        if value not in ("at_least_once", "exactly_once"):
            raise ValueError(f"{value!r}: DAAS_PROCESSING_GUARANTEE is at_least_once or exactly_once")
        return value

    def require(self, name: str) -> Any:
        """The value of setting ``name``, or a ConfigurationError that says how to set it."""
        value = getattr(self, name)
        if value is None:
            raise ConfigurationError(
                f"setting {ENV_PREFIX}{name.upper()} is not set: export it, or run "
                "`daas stack up` so the local stack writes it to "
                f"{stack_env_file(self.runtime_dir)}"
            )
        return value.get_secret_value() if isinstance(value, SecretStr) else value


def _masked(value: SecretStr) -> str:
    """A secret for display: a URL keeps all but its password; anything else is hidden whole."""
    from urllib.parse import urlsplit

    text = value.get_secret_value()
    parts = urlsplit(text)
    if parts.scheme and parts.hostname:
        user = f"{parts.username}:***@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{user}{parts.hostname}{port}{parts.path}"
    return "*** (set)"


def effective_settings(settings: Settings) -> dict[str, Any]:
    """Every setting as its DAAS_* variable and value, secrets masked (``daas config``)."""
    values: dict[str, Any] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if name == "topics":
            for topic, topic_name in value.model_dump().items():
                values[f"DAAS_TOPIC_{topic.upper()}"] = topic_name
            continue
        values[f"{ENV_PREFIX}{name.upper()}"] = _masked(value) if isinstance(value, SecretStr) else value
    return values


def stack_env_file(runtime_dir: Path) -> Path:
    """Where the local stack records its endpoints and generated credentials."""
    return runtime_dir / _STACK_ENV_FILENAME


def _reject_unknown_variables(environ: dict[str, str]) -> None:
    known = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    known |= {f"DAAS_TOPIC_{name.upper()}" for name in Topics.model_fields}
    for key in sorted(environ):
        # DAAS_TEST_* is reserved for the test suite's own switches.
        if key.startswith(ENV_PREFIX) and not key.startswith("DAAS_TEST_") and key not in known:
            hint = difflib.get_close_matches(key, sorted(known), n=1)
            also = f"; did you mean {hint[0]}?" if hint else ""
            raise ConfigurationError(f"unknown setting {key}{also}")


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; called once by each entry point at start-up."""
    _reject_unknown_variables(dict(os.environ))
    runtime_dir = Path(
        overrides.get("runtime_dir") or os.environ.get(f"{ENV_PREFIX}RUNTIME_DIR", ".runtime")
    )
    env_file = stack_env_file(runtime_dir)
    try:
        return Settings(
            _env_file=env_file if env_file.is_file() else None,  # type: ignore[call-arg]
            **overrides,
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{'.'.join(map(str, err['loc'])).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigurationError(f"invalid settings: {problems}") from exc
