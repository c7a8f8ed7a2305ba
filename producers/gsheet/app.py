"""Wiring: the source, producer and checkpoint store a poller process needs.

Called by the ``daas produce gsheet`` command (and by tests that run the poller as a
real process). Nothing is read or written here; the first poll restores the checkpoint and
creates the checkpoint topic if it is missing.
"""

from __future__ import annotations

from daas.settings import Settings
from producers.gsheet.checkpoint import KafkaCheckpointStore, RowPseudonyms
from producers.gsheet.config import GSheetConfig
from producers.gsheet.credentials import service_account_credentials
from producers.gsheet.poller import SheetPoller
from producers.gsheet.quota import RateLimiter
from producers.gsheet.sources import GoogleSheetSource, LocalSheetSource, SheetSource
from producers.gsheet.sources.google_api import sheets_backoff
from producers.kafka_producer import RecordProducer
from schemas import SHEET_ROW

__all__ = ["SOURCE_NAME", "build_poller", "open_source"]

SOURCE_NAME = "gsheet"


def open_source(config: GSheetConfig) -> SheetSource:
    """The Google spreadsheet, or the local CSV or XLSX files, that ``config`` names."""
    if config.local_path is not None:
        return LocalSheetSource(config.local_path)
    assert config.sheet_id is not None  # GSheetConfig guarantees exactly one of the two
    credentials_json = config.credentials_json.get_secret_value() if config.credentials_json else None
    credentials = service_account_credentials(file=config.credentials_file, info_json=credentials_json)
    return GoogleSheetSource(
        config.sheet_id, credentials=credentials, tabs=config.tabs, api_base_url=config.api_base_url,
        limiter=RateLimiter(config.reads_per_minute, 60.0),
        backoff=sheets_backoff(initial=config.backoff_base_seconds, factor=config.backoff_factor,
                               maximum=config.backoff_cap_seconds, max_retries=config.max_retries),
        timeout=config.request_timeout)


def build_poller(settings: Settings, config: GSheetConfig, source: SheetSource | None = None) -> SheetPoller:
    """A poller emitting to ``settings.topics.raw_gsheet`` with Kafka-backed checkpoints."""
    producer = RecordProducer(settings, topic=settings.topics.raw_gsheet, schema_name=SHEET_ROW,
                              source=SOURCE_NAME)
    store = KafkaCheckpointStore(settings, config.checkpoint_topic, flush_timeout=config.delivery_timeout,
                                 pseudonyms=RowPseudonyms(config.row_key_secret.get_secret_value().encode()))
    return SheetPoller(config, source or open_source(config), producer, store)
