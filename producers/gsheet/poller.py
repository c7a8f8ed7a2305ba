"""The sheet poller: read a spreadsheet, emit each new or changed row once.

Each poll reads every tab in one batched call, keys and hashes the rows
(``producers.gsheet.rows``) and compares them with the checkpoint: a row whose key is
new, or whose content hash differs from the one checkpointed, is emitted as a
SheetRow to the raw topic with the key ``<sheet id>/<tab>/<row key>`` (DESIGN.md §3);
every other row is left alone, so re-ordering rows emits nothing.

The order within a poll is what makes it safe to stop at any point:

1. produce the rows and flush; raise ``DeliveryError`` unless Kafka acknowledged all;
2. then save them to the checkpoint store (keyed hashes of the row key and content
   hash only: ``producers.gsheet.checkpoint``), which returns once durable;
3. then remember them in memory.

A crash before step 2 re-emits, after restart, exactly the rows of that poll that
were not checkpointed; the processors' record id (UUIDv5 of source + sheet/tab/row
key) absorbs the repeat. Rows that disappear from the sheet are not emitted (the raw
contract has no deletion); their checkpoint stays, so a row deleted and re-typed
identically is not emitted again.

Run one poller per spreadsheet: two would both emit every change. The CLI builds it
with ``producers.gsheet.app.build_poller`` and calls ``run``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from daas.metrics import Telemetry
from producers.gsheet.checkpoint import Checkpoint, CheckpointEntry, CheckpointStore, RowPseudonyms
from producers.gsheet.config import GSheetConfig
from producers.gsheet.errors import SheetUnavailable
from producers.gsheet.rows import key_rows
from producers.gsheet.sources.base import SheetSource

__all__ = ["PollResult", "RowProducer", "RunStats", "SheetPoller", "record_key"]

_log = logging.getLogger(__name__)


class RowProducer(Protocol):
    """What the poller needs of ``producers.kafka_producer.RecordProducer``."""

    def produce(self, key: str, record: dict[str, Any]) -> None: ...

    def close(self, timeout: float = 60.0) -> None:
        """Flush; raise DeliveryError unless every record so far was acknowledged."""
        ...


@dataclass(frozen=True)
class PollResult:
    """What one poll found: rows emitted as new or changed, rows left alone."""

    new: int
    changed: int
    unchanged: int
    tabs: int = 0
    seconds: float = field(default=0.0, compare=False)

    @property
    def emitted(self) -> int:
        return self.new + self.changed


@dataclass
class RunStats:
    """Totals of a ``run``, returned when it stops."""

    polls: int = 0
    failed_polls: int = 0
    emitted: int = 0


def record_key(sheet_id: str, tab: str, row_key: str) -> str:
    """The Kafka key of a raw sheet row (DESIGN.md §3: sheet id + row key)."""
    return f"{sheet_id}/{tab}/{row_key}"


class SheetPoller:
    """Polls one ``SheetSource`` into the raw topic, checkpointing what it emitted.

    ``clock`` gives the ``polled_at`` timestamp; tests may pin it.
    """

    def __init__(self, config: GSheetConfig, source: SheetSource, producer: RowProducer,
                 checkpoint_store: CheckpointStore, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC)) -> None:
        self.config = config
        self.source = source
        self.producer = producer
        self.checkpoint_store = checkpoint_store
        self._clock = clock
        self._secret = config.row_key_secret.get_secret_value().encode()
        self.pseudonyms = RowPseudonyms(self._secret)
        self._seen: Checkpoint | None = None
        self._fallback_noted: set[str] = set()
        self.polls = 0

    def _checkpoint(self) -> Checkpoint:
        if self._seen is None:
            self._seen = self.checkpoint_store.load(self.source.sheet_id)
        return self._seen

    def restore(self) -> int:
        """(Re)load the checkpoint, as the first poll does by itself; return its row count."""
        self._seen = None
        return len(self._checkpoint())

    def poll_once(self) -> PollResult:
        """Read the sheet once, emit new and changed rows, checkpoint them after delivery."""
        started = time.monotonic()
        seen = self._checkpoint()
        sheet_id = self.source.sheet_id
        polled_at = self._clock()
        tabs = self.source.read_tabs()
        new = changed = unchanged = 0
        emitted: list[CheckpointEntry] = []
        for tab, values in tabs.items():
            keyed = key_rows(tab, values, secret=self._secret)
            if keyed.fallback_keyed and tab not in self._fallback_noted:
                self._fallback_noted.add(tab)
                _log.info("tab %r: %d rows have no Record ID and are keyed by their identifying cells; "
                          "editing those cells makes a new record (see producers.gsheet.rows)",
                          tab, keyed.fallback_keyed)
            for row in keyed.rows:
                entry = self.pseudonyms.entry(tab, row.row_key, row.content_hash)
                before = seen.get((tab, entry.row_id))
                if before == entry.content:
                    unchanged += 1
                    continue
                if before is None:
                    new += 1
                else:
                    changed += 1
                self.producer.produce(record_key(sheet_id, tab, row.row_key), {
                    "sheet_id": sheet_id, "tab": tab, "row_number": row.row_number,
                    "row_key": row.row_key, "content_hash": row.content_hash,
                    "polled_at": polled_at, "cells": row.cells,
                })
                emitted.append(entry)
        if emitted:
            # RecordProducer.close flushes and raises unless every record was acknowledged; the
            # producer stays usable, so it serves as the per-poll flush. Only then checkpoint.
            self.producer.close(self.config.delivery_timeout)
            self.checkpoint_store.save(sheet_id, emitted)
            seen.update({(e.tab, e.row_id): e.content for e in emitted})
        self.polls += 1
        result = PollResult(new, changed, unchanged, len(tabs), time.monotonic() - started)
        _log.info("poll %d of %s: %d tabs, %d new, %d changed, %d unchanged in %.2fs", self.polls, sheet_id,
                  result.tabs, result.new, result.changed, result.unchanged, result.seconds)
        return result

    def run(self, interval: float | None = None, should_stop: Callable[[], bool] = lambda: False, *,
            sleep: Callable[[float], None] = time.sleep, telemetry: Telemetry | None = None) -> RunStats:
        """Poll every ``interval`` seconds (default: the config's) until ``should_stop()``.

        A poll the Sheets API kept refusing (``SheetUnavailable``) is logged and tried
        again at the next interval. Any other error stops the run: a delivery failure
        means the process should restart from its checkpoint with a fresh producer.
        """
        interval = self.config.poll_seconds if interval is None else interval
        telemetry = telemetry or Telemetry("gsheet-poller")
        polls = telemetry.counter("daas_gsheet_polls_total", "Sheet polls, by outcome", ("outcome",))
        rows = telemetry.counter("daas_producer_records_total", "Records produced to a raw topic", ("source",))
        stats = RunStats()
        while not should_stop():
            started = time.monotonic()
            telemetry.beat()
            stats.polls += 1
            try:
                emitted = self.poll_once().emitted
                stats.emitted += emitted
                polls.labels("ok").inc()
                rows.labels("gsheet").inc(emitted)
            except SheetUnavailable as exc:
                stats.failed_polls += 1
                polls.labels("skipped").inc()
                _log.warning("poll skipped: %s", exc)
            while not should_stop():
                telemetry.beat()  # waiting for the next poll is the loop turning too
                left = interval - (time.monotonic() - started)
                if left <= 0:
                    break
                sleep(min(left, 1.0))
        _log.info("poller stopped after %d polls (%d failed), %d rows emitted", stats.polls,
                  stats.failed_polls, stats.emitted)
        return stats
