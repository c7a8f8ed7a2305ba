"""S3Proxy: a real S3-API server writing objects to a folder (filesystem backend)."""

from __future__ import annotations

from pathlib import Path

import boto3
from botocore.config import Config

from daas.stack._artifacts import S3PROXY, fetch, require_java
from daas.stack._service import Service

__all__ = ["S3ProxyServer"]


class S3ProxyServer(Service):
    """S3Proxy on loopback with AWS SigV4 auth and the jclouds filesystem store."""

    name = "s3proxy"
    port_setting = "DAAS_STACK_S3_PORT"

    def __init__(
        self, home: Path, host: str, port: int, *, artifacts: Path, access_key: str, secret_key: str
    ) -> None:
        super().__init__(home, host, port)
        self._artifacts = artifacts
        self.access_key = access_key
        self.secret_key = secret_key

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _launch(self) -> None:
        java = require_java()
        lib = fetch(S3PROXY, self._artifacts)
        jar = next(lib.glob("s3proxy-*.jar"))
        store = self.home / "data"
        store.mkdir(parents=True, exist_ok=True)
        config = self.home / "s3proxy.properties"
        config.write_text(
            "\n".join(
                [
                    f"s3proxy.endpoint={self.endpoint}",
                    "s3proxy.authorization=aws-v2-or-v4",
                    f"s3proxy.identity={self.access_key}",
                    f"s3proxy.credential={self.secret_key}",
                    "jclouds.provider=filesystem",
                    f"jclouds.filesystem.basedir={store}",
                    "",
                ]
            )
        )
        config.chmod(0o600)
        self.process.spawn(
            [java, "-Xmx384m", "-jar", str(jar), "--properties", str(config)], cwd=self.home
        )

    def client(self):  # noqa: ANN201 - boto3 clients are dynamically typed
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}),
        )

    def check_health(self) -> str:
        buckets = self.client().list_buckets()["Buckets"]
        return f"{len(buckets)} buckets"
