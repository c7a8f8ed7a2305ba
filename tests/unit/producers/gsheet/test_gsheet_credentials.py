"""Service-account credentials come from a key file outside the repo or from the key JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from daas.errors import ConfigurationError
from producers.gsheet.credentials import READONLY_SCOPES, REPOSITORY_ROOT, service_account_credentials
from tests.support.fake_sheets import new_private_key_pem

EMAIL = "poller@daas-unit.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def key_info() -> dict[str, str]:
    return {"type": "service_account", "project_id": "daas-unit", "private_key_id": "k1",
            "private_key": new_private_key_pem(), "client_email": EMAIL, "client_id": "1",
            "token_uri": "http://127.0.0.1:9/token"}


def test_from_a_key_file(tmp_path: Path, key_info: dict[str, str]) -> None:
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(key_info))
    credentials = service_account_credentials(file=key_file)
    assert credentials.service_account_email == EMAIL
    assert tuple(credentials.scopes) == READONLY_SCOPES


def test_from_the_key_json_in_the_environment(key_info: dict[str, str]) -> None:
    credentials = service_account_credentials(info_json=json.dumps(key_info))
    assert credentials.service_account_email == EMAIL
    assert tuple(credentials.scopes) == READONLY_SCOPES


def test_exactly_one_origin(tmp_path: Path, key_info: dict[str, str]) -> None:
    for kwargs in ({}, {"file": tmp_path / "sa.json", "info_json": json.dumps(key_info)}):
        with pytest.raises(ConfigurationError, match="DAAS_GSHEET_CREDENTIALS_FILE.*DAAS_GSHEET_CREDENTIALS_JSON"):
            service_account_credentials(**kwargs)  # type: ignore[arg-type]


def test_a_key_file_inside_the_repository_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="inside the repository"):
        service_account_credentials(file=REPOSITORY_ROOT / "producers" / "gsheet" / "sa.json")


def test_a_missing_key_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="DAAS_GSHEET_CREDENTIALS_FILE=.*cannot be read"):
        service_account_credentials(file=tmp_path / "absent.json")


def test_broken_json_is_reported_without_echoing_the_secret() -> None:
    secret_text = '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----MIIsecret'
    with pytest.raises(ConfigurationError) as raised:
        service_account_credentials(info_json=secret_text)
    assert "not JSON" in str(raised.value)
    assert "MIIsecret" not in str(raised.value)


@pytest.mark.parametrize(("change", "message"), [
    ({"type": "authorized_user"}, "not a service-account key"),
    ({"client_email": ""}, "lacks client_email"),
    ({"private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"}, "cannot be loaded"),
])
def test_wrong_keys_are_refused(key_info: dict[str, str], change: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        service_account_credentials(info_json=json.dumps({**key_info, **change}))
