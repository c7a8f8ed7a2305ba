"""The poller configuration fails at start-up, naming the setting, when it cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from daas.errors import ConfigurationError
from producers.gsheet.config import GSheetConfig

SECRET = SecretStr("a-row-key-secret-for-tests")


def test_defaults_for_a_google_sheet() -> None:
    config = GSheetConfig(row_key_secret=SECRET, sheet_id="1AbC")
    assert (config.poll_seconds, config.reads_per_minute, config.checkpoint_topic) == (
        60.0, 60, "health.gsheet.checkpoints.v1")
    assert "a-row-key-secret" not in repr(config)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "exactly one of DAAS_GSHEET_ID .* or DAAS_GSHEET_LOCAL_PATH"),
    ({"sheet_id": "1AbC", "local_path": Path("x.csv")}, "exactly one of DAAS_GSHEET_ID"),
    ({"sheet_id": "1AbC", "poll_seconds": 0}, "DAAS_GSHEET_POLL_SECONDS=0"),
    ({"sheet_id": "1AbC", "reads_per_minute": 0}, "DAAS_GSHEET_READS_PER_MINUTE=0"),
    ({"sheet_id": "1AbC", "checkpoint_topic": " "}, "DAAS_TOPIC_GSHEET_CHECKPOINTS"),
    ({"sheet_id": "1AbC", "api_base_url": "http://sheets.example.org"}, "must be https://"),
    ({"sheet_id": "1AbC", "backoff_base_seconds": 10, "backoff_cap_seconds": 1}, "backoff_base_seconds=10"),
    ({"sheet_id": "1AbC", "max_retries": -1}, "DAAS_GSHEET_MAX_RETRIES=-1"),
])
def test_bad_values_name_the_setting(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        GSheetConfig(row_key_secret=SECRET, **kwargs)  # type: ignore[arg-type]


def test_short_row_key_secret_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="DAAS_PATIENT_KEY_SECRET"):
        GSheetConfig(row_key_secret=SecretStr("short"), sheet_id="1AbC")
