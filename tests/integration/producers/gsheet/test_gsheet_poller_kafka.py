"""Acceptance: the poller against the Sheets API fake and a real Kafka broker.

Rows added, edited and moved between polls: exactly the new and changed rows reach
the raw topic, with the keys and content hashes read back from it; a restarted
poller restores its checkpoint from the compacted topic and emits nothing it already
emitted; a 429 burst delays a poll without failing it; a poll the API keeps refusing
is skipped and the run goes on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
from gsheet_kafka_support import Emitted, read_raw_rows
from pydantic import SecretStr

from daas.kafka import TopicSpec, create_admin, ensure_topics
from daas.settings import Settings, Topics
from producers.gsheet import GSheetConfig, PollResult, RunStats, SheetPoller, build_poller
from producers.gsheet.rows import content_hash, fallback_row_key
from producers.gsheet.sources import GoogleSheetSource
from tests.support.endpoints import Endpoints
from tests.support.fake_sheets import FakeSheets, gaps, new_private_key_pem

SHEET = "1PollerAcceptanceSheet"
SECRET = "acceptance-row-key-secret-0123456789"

OPD_HEADER = ["Record ID", "Facility ID", "Patient ID", "Date of visit", "Diagnosis (ICD-10)", "Sex",
              "Age (years)", "Severity", "First name", "Phone"]
OPD_NAMES = ["row_id", "facility_id", "patient_id", "encounter_date", "icd10_code", "sex", "age_years",
             "severity", "given_name", "phone"]
WARD_HEADER = ["Health facility code", "MRN", "Encounter date", "ICD code", "Gender", "DOB", "Outcome"]
WARD_NAMES = ["facility_id", "patient_id", "encounter_date", "icd10_code", "sex", "birth_date", "outcome"]


def _opd(i: int, severity: str = "mild") -> list[str]:
    return [f"OPD-{i:03d}", "KE-NBI-001", f"MRN{i:05d}", f"2026-03-{i:02d}", "B54", "FM"[i % 2], str(20 + i),
            severity, f"Name{i}", ""]


def _ward(i: int, outcome: str = "treated") -> list[str]:
    return ["KE-NBI-002", f"W{i:04d}", f"2026-03-{i:02d}", "A09", "F", f"19{60 + i}-01-01", outcome]


def _expected(tab: str, row: list[str]) -> tuple[str, str, dict[str, str]]:
    """(Kafka key, content hash, cells) the poller must emit for ``row`` of ``tab``."""
    names = OPD_NAMES if tab == "OPD" else WARD_NAMES
    cells = {name: text for name, text in zip(names, row, strict=True) if text.strip()}
    row_key = cells["row_id"] if tab == "OPD" else fallback_row_key(cells, SECRET.encode())
    return f"{SHEET}/{tab}/{row_key}", content_hash(cells), cells


@pytest.fixture(scope="module")
def key_json() -> Iterator[Callable[[FakeSheets], str]]:
    pem = new_private_key_pem()
    yield lambda fake: json.dumps(fake.service_account_info(pem))


@pytest.fixture
def fake() -> Iterator[FakeSheets]:
    with FakeSheets() as server:
        yield server


@pytest.fixture
def settings(endpoints: Endpoints, unique_name: Callable[[str], str]) -> Settings:
    raw = unique_name("raw")
    ensure_topics(create_admin(endpoints.settings()), [TopicSpec(raw, 3, {"cleanup.policy": "delete"})])
    return endpoints.settings(topics=Topics(raw_gsheet=raw))


def _config(fake: FakeSheets, key_json: Callable[[FakeSheets], str], checkpoint_topic: str,
            **overrides: object) -> GSheetConfig:
    values: dict[str, object] = {
        "row_key_secret": SecretStr(SECRET), "sheet_id": SHEET, "credentials_json": SecretStr(key_json(fake)),
        "api_base_url": fake.base_url, "checkpoint_topic": checkpoint_topic, "poll_seconds": 0.2,
        "backoff_base_seconds": 0.2, "backoff_cap_seconds": 4.0, "max_retries": 6}
    values.update(overrides)
    return GSheetConfig(**values)  # type: ignore[arg-type]


def _emitted_since(settings: Settings, already: int) -> list[Emitted]:
    everything = read_raw_rows(settings, settings.topics.raw_gsheet)
    by_arrival = sorted(everything, key=lambda e: e.record["polled_at"])
    assert len(everything) >= already
    return by_arrival[already:]


def test_new_and_changed_rows_are_emitted_once_and_moves_emit_nothing(
        fake: FakeSheets, key_json: Callable[[FakeSheets], str], settings: Settings,
        unique_name: Callable[[str], str]) -> None:
    opd = [_opd(i) for i in range(1, 6)]
    ward = [_ward(i) for i in range(1, 4)]
    fake.set_tab(SHEET, "OPD", [OPD_HEADER, *opd])
    fake.set_tab(SHEET, "Ward B", [WARD_HEADER, *ward])
    config = _config(fake, key_json, unique_name("ckpt"))
    poller = build_poller(settings, config)

    assert poller.poll_once() == PollResult(8, 0, 0, tabs=2)
    first = read_raw_rows(settings, settings.topics.raw_gsheet)
    expected_first = {_expected("OPD", r)[:2] for r in opd} | {_expected("Ward B", r)[:2] for r in ward}
    assert sorted(e.key_and_hash for e in first) == sorted(expected_first)
    sample = next(e for e in first if e.key == f"{SHEET}/OPD/OPD-002")
    assert sample.record["cells"] == _expected("OPD", opd[1])[2]
    assert (sample.record["sheet_id"], sample.record["tab"], sample.record["row_number"],
            sample.record["row_key"]) == (SHEET, "OPD", 3, "OPD-002")
    assert isinstance(sample.record["polled_at"], datetime)
    assert sample.headers["source"] == b"gsheet"

    # Between polls: OPD gets a new row, an edit and a full re-order; Ward B is re-ordered,
    # one row's outcome edited (same fallback key) and one row added.
    opd[1] = _opd(2, severity="severe")
    opd.append(_opd(6))
    ward[0] = _ward(1, outcome="referred")
    ward.append(_ward(4))
    fake.set_tab(SHEET, "OPD", [OPD_HEADER, *reversed(opd)])
    fake.set_tab(SHEET, "Ward B", [WARD_HEADER, *ward[2:], *ward[:2]])

    result = poller.poll_once()
    assert (result.new, result.changed, result.unchanged) == (2, 2, 6)
    second = _emitted_since(settings, len(first))
    assert sorted(e.key_and_hash for e in second) == sorted([
        _expected("OPD", opd[1])[:2], _expected("OPD", opd[5])[:2],
        _expected("Ward B", ward[0])[:2], _expected("Ward B", ward[3])[:2]])
    assert _expected("OPD", opd[1])[1] != _expected("OPD", _opd(2))[1]
    edited = next(e for e in second if e.key == f"{SHEET}/OPD/OPD-002")
    assert edited.record["row_number"] == 6  # where the row sits after the re-order

    assert poller.poll_once().emitted == 0
    poller.producer.close()

    # A new process restores the checkpoint from the compacted topic: nothing is emitted again.
    restarted = build_poller(settings, config)
    assert restarted.restore() == 10
    assert restarted.poll_once() == PollResult(0, 0, 10, tabs=2)
    assert len(read_raw_rows(settings, settings.topics.raw_gsheet)) == 8 + 4


def test_a_429_burst_delays_the_poll_but_it_succeeds(
        fake: FakeSheets, key_json: Callable[[FakeSheets], str], settings: Settings,
        unique_name: Callable[[str], str], caplog: pytest.LogCaptureFixture) -> None:
    fake.set_tab(SHEET, "OPD", [OPD_HEADER, _opd(1)])
    # Factor 4: each delay is at least twice the one before, a margin far above scheduling noise.
    config = _config(fake, key_json, unique_name("ckpt"), tabs=("OPD",), backoff_base_seconds=0.1,
                     backoff_factor=4.0)
    poller = build_poller(settings, config)
    assert poller.poll_once().new == 1

    fake.set_tab(SHEET, "OPD", [OPD_HEADER, _opd(1), _opd(2)])
    fake.fail_next(429, 429, 429)
    with caplog.at_level(logging.WARNING, logger="producers.gsheet"):
        result = poller.poll_once()
    assert (result.new, result.unchanged) == (1, 1)
    poller.producer.close()

    attempts = fake.api_requests("values")[1:]
    assert [r.status for r in attempts] == [429, 429, 429, 200]
    source = poller.source
    assert isinstance(source, GoogleSheetSource)
    assert source.usage.retries == 3
    measured = list(gaps(attempts))
    for n, (gap, delay) in enumerate(zip(measured, source.usage.last_delays, strict=True)):
        assert 0.1 * 4 ** n / 2 <= delay <= gap + 0.005  # the jitter floor; the server saw the whole wait
    assert measured == sorted(measured)  # the waits grew
    assert sum("HTTP 429; retry" in r.getMessage() for r in caplog.records) == 3
    print(f"backoff gaps seen by the server: {[round(g, 3) for g in measured]}; "
          f"client delays: {[round(d, 3) for d in source.usage.last_delays]}")
    assert [e.key for e in _emitted_since(settings, 1)] == [f"{SHEET}/OPD/OPD-002"]


def test_a_poll_the_api_keeps_refusing_is_skipped_and_the_run_goes_on(
        fake: FakeSheets, key_json: Callable[[FakeSheets], str], settings: Settings,
        unique_name: Callable[[str], str]) -> None:
    fake.set_tab(SHEET, "OPD", [OPD_HEADER, _opd(1), _opd(2)])
    config = _config(fake, key_json, unique_name("ckpt"), backoff_base_seconds=0.02, backoff_cap_seconds=0.05,
                     max_retries=2)
    poller: SheetPoller = build_poller(settings, config)
    fake.fail_next(503, 503, 503)  # open_by_key: the first try and both retries

    stats = poller.run(interval=0.1, should_stop=lambda: poller.polls >= 1)
    poller.producer.close()
    assert stats == RunStats(polls=2, failed_polls=1, emitted=2)
    assert sorted(e.key for e in read_raw_rows(settings, settings.topics.raw_gsheet)) == [
        f"{SHEET}/OPD/OPD-001", f"{SHEET}/OPD/OPD-002"]
