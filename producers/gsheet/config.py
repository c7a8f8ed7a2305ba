"""The poller's configuration: which sheet, how to authenticate, how often, how politely.

Built once at start-up by the CLI from the ``DAAS_GSHEET_*`` settings (the field
names below, upper-cased, after the prefix) and validated here, so a wrong value
fails before anything is read, with a message naming the setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from daas.errors import ConfigurationError
from producers.gsheet.checkpoint import DEFAULT_CHECKPOINT_TOPIC
from producers.gsheet.quota import SHEETS_READS_PER_MINUTE
from producers.gsheet.sources.google_api import SHEETS_API_BASE_URL

__all__ = ["GSheetConfig"]


@dataclass(frozen=True, kw_only=True)
class GSheetConfig:
    """Everything the poller needs besides the Kafka settings.

    Exactly one of ``sheet_id`` (a Google spreadsheet) and ``local_path`` (CSV or XLSX files)
    says what to poll. ``row_key_secret`` keys the fallback row keys (see
    ``producers.gsheet.rows``); the CLI passes the patient-key secret, which the
    poller, already trusted with the raw PII, may hold.
    """

    row_key_secret: SecretStr
    sheet_id: str | None = None
    local_path: Path | None = None
    tabs: tuple[str, ...] = ()
    credentials_file: Path | None = None
    credentials_json: SecretStr | None = None
    poll_seconds: float = 60.0
    reads_per_minute: int = SHEETS_READS_PER_MINUTE
    checkpoint_topic: str = DEFAULT_CHECKPOINT_TOPIC
    api_base_url: str = SHEETS_API_BASE_URL
    backoff_base_seconds: float = 1.0
    backoff_factor: float = 2.0
    backoff_cap_seconds: float = 64.0
    max_retries: int = 8
    request_timeout: float = 60.0
    delivery_timeout: float = 60.0

    def __post_init__(self) -> None:
        problems = []
        if (self.sheet_id is None) == (self.local_path is None):
            problems.append("set exactly one of DAAS_GSHEET_ID (a Google spreadsheet id) or "
                            "DAAS_GSHEET_LOCAL_PATH (a .csv file or a folder of them)")
        if len(self.row_key_secret.get_secret_value()) < 16:
            problems.append("the row-key secret (DAAS_PATIENT_KEY_SECRET) must be at least 16 characters")
        if self.poll_seconds <= 0:
            problems.append(f"DAAS_GSHEET_POLL_SECONDS={self.poll_seconds} must be > 0")
        if not 1 <= self.reads_per_minute <= 6000:
            problems.append(f"DAAS_GSHEET_READS_PER_MINUTE={self.reads_per_minute} must be 1..6000 "
                            f"(the Sheets API default quota is {SHEETS_READS_PER_MINUTE} per user)")
        if not self.checkpoint_topic.strip():
            problems.append("DAAS_TOPIC_GSHEET_CHECKPOINTS must not be empty")
        if not self.api_base_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            problems.append(f"DAAS_GSHEET_API_BASE_URL={self.api_base_url} must be https:// "
                            "(plain http only on loopback)")
        if self.backoff_base_seconds <= 0 or self.backoff_cap_seconds < self.backoff_base_seconds:
            problems.append(f"backoff_base_seconds={self.backoff_base_seconds} must be > 0 and <= "
                            f"backoff_cap_seconds={self.backoff_cap_seconds}")
        if self.backoff_factor < 1:
            problems.append(f"backoff_factor={self.backoff_factor} must be >= 1")
        if self.max_retries < 0:
            problems.append(f"DAAS_GSHEET_MAX_RETRIES={self.max_retries} must be >= 0")
        if problems:
            raise ConfigurationError("invalid sheet poller settings: " + "; ".join(problems))
