"""A poller process that dies by SIGKILL between delivering rows and checkpointing them.

Run by test_gsheet_crash_recovery.py as ``python gsheet_crash_child.py <csv> <checkpoint topic>``
with the DAAS_* Kafka settings in its environment. It polls once, exactly as the
production poller does, except that its checkpoint store kills the process when
asked to save: the rows are acknowledged by Kafka, the checkpoint never written.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr

from daas.settings import load_settings
from producers.gsheet import CheckpointEntry, GSheetConfig, KafkaCheckpointStore, SheetPoller
from producers.gsheet.app import SOURCE_NAME
from producers.gsheet.sources import LocalSheetSource
from producers.kafka_producer import RecordProducer
from schemas import SHEET_ROW


class DieBeforeCheckpoint(KafkaCheckpointStore):
    """Restores like the real store; SIGKILLs the process instead of saving."""

    def save(self, sheet_id: str, entries: Sequence[CheckpointEntry]) -> None:
        print(f"rows acknowledged, killing before checkpointing {len(entries)} rows", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


def main(csv_path: str, checkpoint_topic: str) -> int:
    settings = load_settings()
    config = GSheetConfig(row_key_secret=SecretStr(os.environ["DAAS_PATIENT_KEY_SECRET"]),
                          local_path=Path(csv_path), checkpoint_topic=checkpoint_topic)
    producer = RecordProducer(settings, topic=settings.topics.raw_gsheet, schema_name=SHEET_ROW,
                              source=SOURCE_NAME)
    poller = SheetPoller(config, LocalSheetSource(config.local_path or Path(csv_path)), producer,
                         DieBeforeCheckpoint(settings, checkpoint_topic))
    poller.poll_once()
    return 3  # not reached: the checkpoint store kills the process first


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
