"""Service-account credentials for the Sheets API, from a file or from a secret value.

Called once at start-up by ``producers.gsheet.app``. On AWS the key JSON sits in
Secrets Manager and ECS injects it as an environment variable (the JSON itself), so
the container never holds a key file; locally a path to a key file outside the
repository works too. A key file inside the repository is refused: keys are never
committed. Only the read-only spreadsheets scope is requested.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from google.oauth2.service_account import Credentials

from daas.errors import ConfigurationError

__all__ = ["READONLY_SCOPES", "REPOSITORY_ROOT", "service_account_credentials"]

READONLY_SCOPES = ("https://www.googleapis.com/auth/spreadsheets.readonly",)
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]

_FILE_SETTING = "DAAS_GSHEET_CREDENTIALS_FILE"
_JSON_SETTING = "DAAS_GSHEET_CREDENTIALS_JSON"


def _info_from_file(path: Path) -> dict[str, Any]:
    resolved = path.expanduser().resolve()
    if resolved.is_relative_to(REPOSITORY_ROOT):
        raise ConfigurationError(
            f"{_FILE_SETTING}={path} is inside the repository ({REPOSITORY_ROOT}); keep service-account "
            f"keys outside it, or pass the key JSON through {_JSON_SETTING} from a secret store")
    try:
        text = resolved.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{_FILE_SETTING}={path} cannot be read: {exc.strerror}") from exc
    return _parse(text, f"{_FILE_SETTING}={path}")


def _parse(text: str, origin: str) -> dict[str, Any]:
    # The messages never echo the text: it holds a private key.
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{origin} is not JSON (line {exc.lineno}, column {exc.colno})") from exc
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ConfigurationError(
            f"{origin} is not a service-account key: expected a JSON object with "
            '"type": "service_account" (Google Cloud console > IAM > Service accounts > Keys)')
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if missing:
        raise ConfigurationError(f"{origin} lacks {', '.join(missing)}")
    return info


def service_account_credentials(*, file: Path | None = None, info_json: str | None = None) -> Credentials:
    """Read-only Sheets credentials from exactly one of a key file or the key JSON.

    Raises ConfigurationError naming the setting to fix when neither or both are
    given, or the key is unreadable.
    """
    if (file is None) == (info_json is None):
        raise ConfigurationError(
            f"set exactly one of {_FILE_SETTING} (path to a service-account key file outside the "
            f"repository) or {_JSON_SETTING} (the key JSON, e.g. injected from AWS Secrets Manager)")
    info = _info_from_file(file) if file is not None else _parse(info_json or "", _JSON_SETTING)
    try:
        return Credentials.from_service_account_info(info, scopes=list(READONLY_SCOPES))
    except ValueError as exc:
        origin = _FILE_SETTING if file is not None else _JSON_SETTING
        raise ConfigurationError(f"{origin}: the private key cannot be loaded ({type(exc).__name__})") from exc
