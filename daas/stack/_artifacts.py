"""Fetch the stack's Java servers from Maven Central, once.

Each artifact set is resolved by Maven into its own folder (Kafka and S3Proxy bring
different versions of shared libraries, so they never share a classpath). A stamp
file marks a complete fetch; Maven's own repository (~/.m2) caches the downloads.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from daas.errors import StackError

__all__ = ["JavaArtifact", "KAFKA", "S3PROXY", "fetch", "require_java"]


@dataclass(frozen=True)
class JavaArtifact:
    """Maven coordinates of one server and the extra runtime dependencies it needs."""

    name: str
    version: str
    coordinates: tuple[tuple[str, str, str, str | None], ...]  # group, artifact, version, classifier
    transitive: bool = True

    @property
    def folder_name(self) -> str:
        return f"{self.name}-{self.version}"


# Kafka 3.9 is the newest line that still serves every protocol version aiokafka (Faust)
# and librdkafka (confluent-kafka) negotiate; 4.x removed old API versions (KIP-896).
KAFKA = JavaArtifact(
    name="kafka",
    version="3.9.1",
    coordinates=(
        ("org.apache.kafka", "kafka_2.13", "3.9.1", None),
        # Kafka 3.9 logs through slf4j; without a binding the broker logs nothing.
        ("org.slf4j", "slf4j-reload4j", "1.7.36", None),
    ),
)

S3PROXY = JavaArtifact(
    name="s3proxy",
    version="2.7.0",
    coordinates=(("org.gaul", "s3proxy", "2.7.0", "jar-with-dependencies"),),
    transitive=False,
)


def require_java() -> str:
    """Path of the java binary, or a StackError that says how to install it."""
    java = shutil.which("java")
    if java is None:
        raise StackError(
            "java not found on PATH: the local stack runs Kafka and S3Proxy on Java 17+; "
            "install it with `apt-get install -y openjdk-17-jre-headless`"
        )
    return java


def _pom(artifact: JavaArtifact) -> str:
    deps = []
    for group, art, version, classifier in artifact.coordinates:
        extra = f"<classifier>{classifier}</classifier>" if classifier else ""
        exclusions = "" if artifact.transitive else (
            "<exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId>"
            "</exclusion></exclusions>"
        )
        deps.append(
            f"<dependency><groupId>{group}</groupId><artifactId>{art}</artifactId>"
            f"<version>{version}</version>{extra}{exclusions}</dependency>"
        )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">'
        "<modelVersion>4.0.0</modelVersion><groupId>org.daas.stack</groupId>"
        f"<artifactId>{artifact.name}-runtime</artifactId><version>{artifact.version}</version>"
        f"<packaging>pom</packaging><dependencies>{''.join(deps)}</dependencies></project>\n"
    )


def fetch(artifact: JavaArtifact, cache_dir: Path) -> Path:
    """The folder holding ``artifact``'s jars, fetching them with Maven on first use."""
    target = cache_dir / artifact.folder_name
    lib = target / "lib"
    stamp = target / ".complete"
    if stamp.is_file():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            f"mvn not found on PATH: the local stack fetches {artifact.name} {artifact.version} "
            "from Maven Central with Maven; install it with `apt-get install -y maven`"
        )
    target.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(lib, ignore_errors=True)
    (target / "pom.xml").write_text(_pom(artifact))
    cmd = [
        mvn, "-B", "-q", "-f", str(target / "pom.xml"),
        "dependency:copy-dependencies", f"-DoutputDirectory={lib}", "-DincludeScope=runtime",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0 or not any(lib.glob("*.jar")):
        raise StackError(
            f"could not fetch {artifact.name} {artifact.version} from Maven Central "
            f"(exit {result.returncode}):\n{(result.stdout + result.stderr)[-2000:]}"
        )
    stamp.write_text(f"{artifact.coordinates}\n")
    return lib
