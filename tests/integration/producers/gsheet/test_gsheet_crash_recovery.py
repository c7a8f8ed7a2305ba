"""Acceptance: a poller killed between delivering rows and checkpointing them loses nothing.

The second poll runs in a child process that SIGKILLs itself after Kafka acknowledged
the rows and before the checkpoint is written. A fresh poller then restores the
checkpoint from the compacted topic and re-emits exactly the rows that were not
checkpointed — no more, no fewer — so each row's latest version is on the topic and,
after de-duplication by (row key, content hash), every version appears once.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from gsheet_kafka_support import read_raw_rows
from pydantic import SecretStr

from daas.kafka import TopicSpec, create_admin, ensure_topics
from daas.settings import Topics
from producers.gsheet import GSheetConfig, KafkaCheckpointStore, PollResult, RowPseudonyms, build_poller
from producers.gsheet.rows import key_rows
from tests.support.endpoints import Endpoints

REPO = Path(__file__).resolve().parents[4]
CHILD = Path(__file__).with_name("gsheet_crash_child.py")
PREFIX = "kampala-opd.csv/kampala-opd/"  # Kafka key = sheet id (the file name) / tab / row key
HEADER = ["Encounter ID", "Facility", "MRN", "Date", "ICD10", "Sex", "Age", "Outcome"]


def _row(i: int, outcome: str = "treated") -> list[str]:
    return [f"E{i}", "UG-KLA-001", f"M{i}", f"2026-04-{i:02d}", "A09", "F", str(30 + i), outcome]


def _write(path: Path, rows: list[list[str]]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([HEADER, *rows])
    tmp.replace(path)


def test_rows_delivered_but_not_checkpointed_are_re_emitted_exactly_once_after_a_kill(
        endpoints: Endpoints, unique_name: Callable[[str], str], tmp_path: Path) -> None:
    raw, checkpoint_topic = unique_name("raw"), unique_name("ckpt")
    ensure_topics(create_admin(endpoints.settings()), [TopicSpec(raw, 3, {"cleanup.policy": "delete"})])
    settings = endpoints.settings(topics=Topics(raw_gsheet=raw))
    secret = settings.require("patient_key_secret")
    sheet = tmp_path / "kampala-opd.csv"
    config = GSheetConfig(row_key_secret=SecretStr(secret), local_path=sheet, checkpoint_topic=checkpoint_topic)

    # Poll 1, in process: three rows emitted and checkpointed.
    _write(sheet, [_row(1), _row(2), _row(3)])
    poller = build_poller(settings, config)
    assert poller.poll_once() == PollResult(3, 0, 0, tabs=1)
    poller.producer.close()
    after_first = read_raw_rows(settings, raw)
    assert len(after_first) == 3

    # Poll 2, in a child process that dies after the rows are acknowledged.
    _write(sheet, [_row(3), _row(2, outcome="referred"), _row(1), _row(4), _row(5)])
    env = {**os.environ, **endpoints.env(), "DAAS_TOPIC_RAW_GSHEET": raw, "PYTHONPATH": str(REPO)}
    child = subprocess.run([sys.executable, str(CHILD), str(sheet), checkpoint_topic], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert "killing before checkpointing 3 rows" in child.stdout
    delivered_before_kill = {e.key_and_hash for e in read_raw_rows(settings, raw)} - {
        e.key_and_hash for e in after_first}
    now_in_sheet = key_rows("kampala-opd", list(csv.reader(sheet.read_text(encoding="utf-8").splitlines())),
                            secret=secret.encode()).rows
    current = {f"{PREFIX}{r.row_key}": r.content_hash for r in now_in_sheet}
    not_checkpointed = {(f"{PREFIX}{rid}", current[f"{PREFIX}{rid}"]) for rid in ("E2", "E4", "E5")}
    assert delivered_before_kill == not_checkpointed

    # Restart, in process: the checkpoint still holds poll 1, so exactly poll 2's rows go again.
    restarted = build_poller(settings, config)
    result = restarted.poll_once()
    assert (result.new, result.changed, result.unchanged) == (2, 1, 2)
    assert restarted.poll_once().emitted == 0
    restarted.producer.close()

    emitted = read_raw_rows(settings, raw)
    assert len(emitted) == 3 + 3 + 3
    counts = Counter(e.key_and_hash for e in emitted)
    assert {pair for pair, n in counts.items() if n == 2} == not_checkpointed  # re-emitted: exactly these
    assert {pair for pair, n in counts.items() if n == 1} == {e.key_and_hash for e in after_first}
    assert max(counts.values()) == 2
    latest = {}
    for e in emitted:  # per key, partition order is production order
        latest[e.key] = e.record["content_hash"]
    assert latest == current  # no row lost; each row's latest version is on the topic

    restored = KafkaCheckpointStore(settings, checkpoint_topic).load("kampala-opd.csv")
    p = RowPseudonyms(secret.encode())
    assert restored == {("kampala-opd", p.row(k.removeprefix(PREFIX))): p.content(h) for k, h in current.items()}
