"""Kafka client security: nothing locally, SASL/OAUTHBEARER with MSK IAM tokens on AWS.

No AWS endpoint is reached: MSK IAM tokens are SigV4 presigned URLs built locally
from the (here fake) credentials in the environment.
"""

from __future__ import annotations

import base64
import time

import pytest

from daas.errors import ConfigurationError
from daas.kafka import client_security, create_producer
from daas.settings import load_settings


def test_local_stack_needs_no_security() -> None:
    assert client_security(load_settings()) == {"security.protocol": "PLAINTEXT"}


def test_msk_iam_uses_oauthbearer_with_locally_signed_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE12")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-for-signing-only-000000000000")
    # A port nothing listens on, and librdkafka quiet: the producer below only proves
    # the configuration is accepted, and would otherwise log failed TLS handshakes.
    settings = load_settings(kafka_security_protocol="SASL_SSL", kafka_auth="aws_msk_iam",
                             kafka_aws_region="af-south-1", kafka_bootstrap_servers="127.0.0.1:1")
    config = client_security(settings)
    assert (config["security.protocol"], config["sasl.mechanism"]) == ("SASL_SSL", "OAUTHBEARER")
    token, expiry = config["oauth_cb"]("")
    url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    assert url.startswith("https://kafka.af-south-1.amazonaws.com/?Action=kafka-cluster%3AConnect")
    assert time.time() < expiry < time.time() + 3600
    create_producer(settings, log_level=0)  # librdkafka accepts the configuration


def test_msk_iam_without_tls_or_region_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="SASL_SSL"):
        client_security(load_settings(kafka_auth="aws_msk_iam", kafka_aws_region="af-south-1"))
    with pytest.raises(ConfigurationError, match="DAAS_KAFKA_AWS_REGION"):
        client_security(load_settings(kafka_security_protocol="SASL_SSL", kafka_auth="aws_msk_iam"))


def test_the_faust_app_gets_matching_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    import faust

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE12")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-for-signing-only-000000000000")
    from stream_processors.surveillance.app import create_app

    settings = load_settings(kafka_security_protocol="SASL_SSL", kafka_auth="aws_msk_iam",
                             kafka_aws_region="af-south-1", patient_key_secret="k" * 40)
    credentials = create_app(settings).conf.broker_credentials
    assert isinstance(credentials, faust.OAuthCredentials)
