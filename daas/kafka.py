"""Kafka client factory: the one place that knows how this project talks to Kafka.

Producers are idempotent with ``acks=all``; consumers never auto-commit (stages
commit after their outputs are durable, DESIGN.md §5) and read only committed
transactional data. librdkafka rejects unknown configuration keys at construction,
which we surface as a ConfigurationError naming the key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from daas.errors import ConfigurationError, DaasError, Retryable
from daas.settings import Settings, Topics

__all__ = [
    "BrokersUnreachable",
    "DeliveryError",
    "client_security",
    "count_records",
    "msk_iam_token",
    "DeliveryReport",
    "TopicSpec",
    "create_admin",
    "create_consumer",
    "create_producer",
    "ensure_topics",
    "flush_or_raise",
    "produce",
    "pipeline_topics",
    "require_brokers",
]

_DAY_MS = 24 * 3600 * 1000


class DeliveryError(Retryable):
    """Kafka did not acknowledge every record a stage produced."""


class BrokersUnreachable(Retryable):
    """No broker of ``DAAS_KAFKA_BOOTSTRAP_SERVERS`` answered at start-up.

    Retryable in kind (Kafka may come back), but a stage that raises it at start-up
    exits at once with the message instead of waiting in silence.
    """


@dataclass(frozen=True)
class TopicSpec:
    """A topic and the configuration it is created with."""

    name: str
    partitions: int
    config: Mapping[str, str] = field(default_factory=dict)


def pipeline_topics(topics: Topics, partitions: int) -> list[TopicSpec]:
    """The topics of DESIGN.md §3 with their retention."""
    def retained(days: int) -> dict[str, str]:
        return {"retention.ms": str(days * _DAY_MS), "cleanup.policy": "delete"}

    compacted = {"cleanup.policy": "compact", "min.compaction.lag.ms": "60000"}
    return [
        TopicSpec(topics.raw_simuhealth, partitions, retained(30)),
        TopicSpec(topics.raw_gsheet, partitions, retained(30)),
        TopicSpec(topics.clean_lake, partitions, retained(7)),
        TopicSpec(topics.clean_ops, partitions, retained(7)),
        TopicSpec(topics.dlq, partitions, retained(30)),
        TopicSpec(topics.surveillance_cases, partitions, retained(7)),
        TopicSpec(topics.surveillance_counts, partitions, compacted),
        TopicSpec(topics.surveillance_alerts, partitions, compacted),
    ]


def msk_iam_token(region: str) -> tuple[str, float]:
    """An MSK IAM auth token and its expiry (seconds since the epoch), signed locally."""
    from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

    token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
    return token, expiry_ms / 1000


def client_security(settings: Settings) -> dict[str, Any]:
    """librdkafka security keys for the configured cluster (empty for the local stack)."""
    config: dict[str, Any] = {"security.protocol": settings.kafka_security_protocol}
    if settings.kafka_auth == "aws_msk_iam":
        if settings.kafka_security_protocol != "SASL_SSL":
            raise ConfigurationError("DAAS_KAFKA_AUTH=aws_msk_iam needs DAAS_KAFKA_SECURITY_PROTOCOL=SASL_SSL")
        region = settings.require("kafka_aws_region")
        config.update({"sasl.mechanism": "OAUTHBEARER", "oauth_cb": lambda _config: msk_iam_token(region)})
    return config


# librdkafka's own log lines (connection refused, broker down...) go through Python
# logging, so they get timestamps and levels, JSON on request, and the repeat filter of
# ``daas.logs`` instead of a line per retry on stderr.
_LIBRDKAFKA = logging.getLogger("librdkafka")


def _build(kind: type, config: dict[str, Any]) -> Any:
    config.setdefault("logger", _LIBRDKAFKA)
    try:
        return kind(config)
    except (KafkaException, ValueError, TypeError) as exc:
        raise ConfigurationError(f"invalid {kind.__name__} configuration: {exc}") from exc


def create_producer(settings: Settings, **overrides: Any) -> Producer:
    """An idempotent producer (acks=all); ``overrides`` are librdkafka keys."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        **client_security(settings),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 20,
        "batch.size": 512 * 1024,
        "compression.type": "lz4",
        "message.timeout.ms": 120_000,
        # As large as the topics accept: a record the broker takes is one we can pass on.
        "message.max.bytes": settings.kafka_max_message_bytes,
        # Java's partitioner, so a key lands where any other client would put it (the
        # processor's state is per input partition).
        "partitioner": "murmur2_random",
    }
    config.update(overrides)
    return _build(Producer, config)


def create_consumer(settings: Settings, group_id: str, **overrides: Any) -> Consumer:
    """A consumer that never commits on its own and skips aborted transactions."""
    config: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        **client_security(settings),
        "group.id": group_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "partition.assignment.strategy": "cooperative-sticky",
    }
    config.update(overrides)
    return _build(Consumer, config)


def require_brokers(settings: Settings, timeout: float = 10.0) -> None:
    """Fail fast unless a broker of ``DAAS_KAFKA_BOOTSTRAP_SERVERS`` answers a metadata
    request within ``timeout`` seconds.

    Called at start-up by every stage that talks to Kafka (the sink runner, the
    producers, the processor worker) before it subscribes or produces: librdkafka
    itself retries an unreachable broker for ever, so without this a stage waits in
    silence. Raises :class:`BrokersUnreachable` naming the setting, its value, the
    security protocol and what the client saw (connection refused, name not resolved,
    authentication failed...).
    """
    seen: list[str] = []

    def remember(error: KafkaError) -> None:
        text = error.str()
        if text not in seen:
            seen.append(text)

    admin = _build(AdminClient, {"bootstrap.servers": settings.kafka_bootstrap_servers,
                                 **client_security(settings), "error_cb": remember,
                                 "log_level": 0})  # what it saw goes into the error instead
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        admin.poll(0.1)  # serves the error callbacks
        detail = "; ".join(seen[:3]) or str(exc)
        raise BrokersUnreachable(
            f"Kafka is unreachable: no broker of DAAS_KAFKA_BOOTSTRAP_SERVERS={settings.kafka_bootstrap_servers!r} "
            f"(security protocol {settings.kafka_security_protocol}, auth {settings.kafka_auth}) answered a "
            f"metadata request within {timeout:g}s: {detail}. Check the address and that Kafka is running "
            "(locally: daas stack up), and DAAS_KAFKA_SECURITY_PROTOCOL / DAAS_KAFKA_AUTH for the cluster") from exc


def create_admin(settings: Settings) -> AdminClient:
    return _build(AdminClient, {"bootstrap.servers": settings.kafka_bootstrap_servers, **client_security(settings)})


def ensure_topics(admin: AdminClient, specs: Iterable[TopicSpec], *, replication_factor: int = 1,
                  timeout: float = 30.0) -> list[str]:
    """Create the topics that do not exist yet; return the names created. Idempotent."""
    specs = list(specs)
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [s for s in specs if s.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(s.name, num_partitions=s.partitions, replication_factor=replication_factor,
                  config=dict(s.config)) for s in missing],
        request_timeout=timeout,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise DaasError(f"could not create topic {name}: {exc}") from exc
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        topics = admin.list_topics(timeout=timeout).topics
        if all(n in topics and not topics[n].error for n in created):
            break
        time.sleep(0.1)
    return created


def count_records(settings: Settings, topic: str) -> int:
    """Records in a topic: high minus low watermark over its partitions (transaction
    markers count too, so this is exact only for topics written without transactions)."""
    consumer = create_consumer(settings, "daas-watermarks")
    try:
        parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(high - low for low, high in
                   (consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in parts))
    finally:
        consumer.close()


@dataclass
class DeliveryReport:
    """Counts delivery callbacks so a stage can prove every record was acknowledged."""

    delivered: int = 0
    failed: int = 0
    first_error: str | None = None

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.delivered += 1
            return
        self.failed += 1
        if self.first_error is None:
            self.first_error = f"{msg.topic()}: {err.str()}"


def produce(producer: Producer, topic: str, key: bytes | None, value: bytes | None, *,
            headers: Sequence[tuple[str, bytes]] | None = None, partition: int = -1,
            on_delivery: Callable[..., None] | None = None) -> None:
    """``producer.produce``, waiting while librdkafka's local queue is full (serving deliveries)
    instead of failing with ``BufferError``."""
    while True:
        try:
            producer.produce(topic, value, key, partition, on_delivery=on_delivery, headers=headers)
            return
        except BufferError:
            producer.poll(0.05)


def flush_or_raise(producer: Producer, report: DeliveryReport, timeout: float = 60.0) -> None:
    """Wait until every queued record is acknowledged; raise if any is not."""
    remaining = producer.flush(timeout)
    if remaining:
        raise DeliveryError(f"{remaining} records still unacknowledged after {timeout:.0f}s")
    if report.failed:
        raise DeliveryError(f"{report.failed} records were not delivered; first: {report.first_error}")
