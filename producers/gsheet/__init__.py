"""The Google Sheets poller: emits each new or changed spreadsheet row once, as a SheetRow.

Modules, in the order a poll uses them:

- ``sources``: where rows come from — ``GoogleSheetSource`` (Sheets API via gspread,
  with the read quota of ``quota`` and ``daas.backoff``) or ``LocalSheetSource``
  (CSV or XLSX files); both behind ``SheetSource``.
- ``headers``: header text -> canonical cell names.
- ``rows``: stable row keys and content hashes.
- ``checkpoint``: what was emitted, in a compacted Kafka topic.
- ``poller``: ``SheetPoller.poll_once`` / ``run``; ``app`` wires one from settings.
"""

from producers.gsheet.app import SOURCE_NAME, build_poller, open_source
from producers.gsheet.checkpoint import (
    DEFAULT_CHECKPOINT_TOPIC,
    Checkpoint,
    CheckpointEntry,
    CheckpointStore,
    KafkaCheckpointStore,
    RowPseudonyms,
)
from producers.gsheet.config import GSheetConfig
from producers.gsheet.credentials import service_account_credentials
from producers.gsheet.errors import CheckpointUnavailable, SheetAccessError, SheetError, SheetUnavailable
from producers.gsheet.poller import PollResult, RunStats, SheetPoller, record_key
from producers.gsheet.quota import RateLimiter
from producers.gsheet.sources import GoogleSheetSource, LocalSheetSource, SheetSource

__all__ = [
    "DEFAULT_CHECKPOINT_TOPIC",
    "SOURCE_NAME",
    "Checkpoint",
    "CheckpointEntry",
    "CheckpointStore",
    "CheckpointUnavailable",
    "GSheetConfig",
    "GoogleSheetSource",
    "KafkaCheckpointStore",
    "LocalSheetSource",
    "PollResult",
    "RateLimiter",
    "RowPseudonyms",
    "RunStats",
    "SheetAccessError",
    "SheetError",
    "SheetPoller",
    "SheetSource",
    "SheetUnavailable",
    "build_poller",
    "open_source",
    "record_key",
    "service_account_credentials",
]
