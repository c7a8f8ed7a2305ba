"""S3 as a destination: the client, and which failures are worth another attempt.

``s3_client`` is what every S3 user in the stream services builds (the sink, the
demo, the tests). :class:`S3Bucket` wraps the few calls the lake needs and turns
botocore's errors into the project's: ``Retryable`` for an endpoint that is down,
slow or throttling; ``ConfigurationError`` for a missing bucket or refused
credentials (fix the setting it names); ``SinkError`` for anything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NoReturn

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from daas.errors import ConfigurationError, Retryable, SinkError
from daas.settings import Settings

__all__ = ["S3Bucket", "s3_client"]

# Statuses and codes worth another attempt; anything else (403, 404, 501 …) is a fault
# of ours that waiting will not fix.
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_TRANSIENT_CODES = frozenset({"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "Throttling",
                              "RequestTimeTooSkewed"})
_CREDENTIAL_CODES = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
                               "InvalidToken"})
_NETWORK = (BotoConnectionError, EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError,
            ConnectionClosedError, HTTPClientError)


def s3_client(settings: Settings) -> Any:
    """A boto3 S3 client for the configured endpoint (S3Proxy/MinIO locally, AWS otherwise)."""
    key_id = settings.s3_access_key_id
    secret = settings.s3_secret_access_key
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=key_id.get_secret_value() if key_id else None,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        # Checksums only where S3 requires them: S3-compatible servers (S3Proxy, MinIO
        # versions) answer 501 to the streaming-trailer checksums boto3 sends by default.
        # Few quick attempts here: the sink's own backoff handles long outages.
        config=Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"},
                      request_checksum_calculation="when_required",
                      response_checksum_validation="when_required"),
    )


class S3Bucket:
    """The lake bucket, with classified errors. Used by the S3 sink and its ledger."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.name = bucket

    def url(self, key: str) -> str:
        return f"s3://{self.name}/{key}"

    def _fail(self, action: str, key: str, exc: Exception) -> NoReturn:
        where = f"{action} s3://{self.name}/{key}"
        if isinstance(exc, _NETWORK):
            raise Retryable(f"S3 unavailable {where}: {exc}") from exc
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status in _TRANSIENT_STATUS or code in _TRANSIENT_CODES:
                raise Retryable(f"S3 answered {status} {code} {where}") from exc
            if code == "NoSuchBucket":
                raise ConfigurationError(f"bucket {self.name!r} does not exist ({where}); create it or set "
                                         "DAAS_S3_BUCKET") from exc
            if code in _CREDENTIAL_CODES or status == 403:
                raise ConfigurationError(f"S3 refused the credentials ({code}) {where}; check "
                                         "DAAS_S3_ACCESS_KEY_ID / DAAS_S3_SECRET_ACCESS_KEY") from exc
            raise SinkError(f"S3 refused {where}: {status} {code} {error.get('Message', '')}".strip()) from exc
        if isinstance(exc, BotoCoreError):
            raise SinkError(f"S3 client error {where}: {exc}") from exc
        raise exc

    def probe(self) -> None:
        """One cheap request (HEAD bucket): raises like any other call while S3 is away."""
        try:
            self.client.head_bucket(Bucket=self.name)
        except (BotoCoreError, ClientError) as exc:
            self._fail("probing", "", exc)

    def put(self, key: str, body: bytes, content_type: str) -> None:
        try:
            self.client.put_object(Bucket=self.name, Key=key, Body=body, ContentType=content_type)
        except (BotoCoreError, ClientError) as exc:
            self._fail("writing", key, exc)

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""
        try:
            return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()  # type: ignore[no-any-return]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            self._fail("reading", key, exc)
        except BotoCoreError as exc:
            self._fail("reading", key, exc)

    def delete(self, keys: Iterable[str]) -> None:
        """Delete ``keys`` (missing ones are fine), a thousand per request."""
        keys = sorted(set(keys))
        for start in range(0, len(keys), 1000):
            chunk = keys[start:start + 1000]
            try:
                answer = self.client.delete_objects(
                    Bucket=self.name, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
            except (BotoCoreError, ClientError) as exc:
                self._fail("deleting", chunk[0], exc)
            errors = answer.get("Errors") or []
            if errors:
                first = errors[0]
                raise Retryable(f"S3 did not delete {len(errors)} objects, first s3://{self.name}/{first.get('Key')}: "
                                f"{first.get('Code')} {first.get('Message')}")

    def list_keys(self, prefix: str, *, start_after: str | None = None) -> Iterator[str]:
        """Keys under ``prefix`` in key order, after ``start_after`` when given."""
        kwargs: dict[str, Any] = {"Bucket": self.name, "Prefix": prefix}
        if start_after:
            kwargs["StartAfter"] = start_after
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
                for obj in page.get("Contents", []):
                    yield obj["Key"]
        except (BotoCoreError, ClientError) as exc:
            self._fail("listing", prefix, exc)
