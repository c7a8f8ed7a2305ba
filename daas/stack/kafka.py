"""Apache Kafka in KRaft mode: one node that is both broker and controller."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from daas.errors import StackError
from daas.stack._artifacts import KAFKA, fetch, require_java
from daas.stack._service import Service

__all__ = ["KafkaServer"]

_LOG4J = """\
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={log}
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
"""


class KafkaServer(Service):
    """A single-node KRaft cluster on loopback, formatted on first start."""

    name = "kafka"
    port_setting = "DAAS_STACK_KAFKA_PORT"

    def __init__(self, home: Path, host: str, port: int, *, artifacts: Path, heap_mb: int = 768) -> None:
        super().__init__(home, host, port)
        self.controller_port = port + 1
        self._artifacts = artifacts
        self._heap_mb = heap_mb

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.port, self.controller_port)

    def _write_config(self, data_dir: Path) -> Path:
        config = self.home / "server.properties"
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@{self.host}:{self.controller_port}",
                    f"listeners=PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://{self.host}:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={data_dir}",
                    "num.partitions=3",
                    "default.replication.factor=1",
                    "min.insync.replicas=1",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=10",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "transaction.state.log.num.partitions=5",
                    # A dead exactly-once worker's open transaction is aborted soon after
                    # its timeout (the processor's is 10 s), not up to 10 s later: its
                    # partitions' next owner waits for that abort.
                    "transaction.abort.timed.out.transaction.cleanup.interval.ms=1000",
                    "group.initial.rebalance.delay.ms=0",
                    # Topics are created explicitly with their retention (DESIGN.md §3);
                    # a typo in a topic name must fail instead of creating a new topic.
                    "auto.create.topics.enable=false",
                    "log.retention.check.interval.ms=60000",
                    "",
                ]
            )
        )
        return config

    def _launch(self) -> None:
        java = require_java()
        lib = fetch(KAFKA, self._artifacts)
        data_dir = self.home / "data"
        config = self._write_config(data_dir)
        log4j = self.home / "log4j.properties"
        log4j.write_text(_LOG4J.format(log=self.home / "server.log"))
        classpath = f"{lib}/*"
        jvm = [java, f"-Xms{self._heap_mb // 2}m", f"-Xmx{self._heap_mb}m", "-XX:+UseG1GC",
               f"-Dlog4j.configuration=file:{log4j}", f"-Dkafka.logs.dir={self.home}",
               "-cp", classpath]
        if not (data_dir / "meta.properties").is_file():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            # One id in 64 starts with "-": passed as "-t <id>", argparse reads it as an option.
            result = subprocess.run(  # noqa: S603
                [*jvm, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(config)],
                capture_output=True, text=True, check=False,
            )
            if result.returncode != 0:
                raise StackError(f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}")
        self.process.spawn([*jvm, "kafka.Kafka", str(config)], cwd=self.home)

    def check_health(self) -> str:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.endpoint, "socket.timeout.ms": 2000, "log_level": 0})
        metadata = admin.list_topics(timeout=3)
        if not metadata.brokers:
            raise StackError("Kafka answered metadata without brokers")
        return f"{len(metadata.brokers)} broker, {len(metadata.topics)} topics"
