"""The Google source through gspread and google-auth, against the local Sheets API fake.

No Kafka here: these tests pin what the source costs in API reads, how it
authenticates, how it backs off and when it gives up.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest

from daas.errors import Retryable
from producers.gsheet.sources.google_api import sheets_backoff
from producers.gsheet.credentials import READONLY_SCOPES, service_account_credentials
from producers.gsheet.errors import SheetAccessError, SheetUnavailable
from producers.gsheet.quota import RateLimiter
from producers.gsheet.sources import GoogleSheetSource
from tests.support.fake_sheets import FakeSheets, gaps, new_private_key_pem

SHEET = "1TestSheetId"
OPD = [["Record ID", "Facility ID", "Date of visit"], ["R1", "KE-1", "2026-03-02"], ["R2", "KE-2", "2026-03-03", ""]]
WARD = [["Patient ID", "ICD10"], ["P1", "B54"]]


@pytest.fixture(scope="module")
def private_key() -> str:
    return new_private_key_pem()


@pytest.fixture
def fake() -> Iterator[FakeSheets]:
    with FakeSheets() as server:
        server.set_tab(SHEET, "OPD", OPD)
        server.set_tab(SHEET, "Ward 'B'", WARD)
        server.set_tab(SHEET, "Lookups", [["code"], ["B54"]], hidden=True)
        yield server


class Sleeps:
    """Records the backoff sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def _source(fake: FakeSheets, private_key: str, **kwargs: object) -> GoogleSheetSource:
    info = json.dumps(fake.service_account_info(private_key))
    options: dict[str, object] = {"api_base_url": fake.base_url, "backoff": sheets_backoff(initial=0.01, maximum=0.05)}
    options.update(kwargs)
    return GoogleSheetSource(SHEET, credentials=service_account_credentials(info_json=info), **options)  # type: ignore[arg-type]


def test_each_poll_reads_all_visible_tabs_in_one_values_request(fake: FakeSheets, private_key: str) -> None:
    source = _source(fake, private_key)
    for _ in range(3):
        # Trailing blank cells come back trimmed, as the real API sends them; hidden tabs are skipped.
        assert source.read_tabs() == {"OPD": [OPD[0], OPD[1], OPD[2][:3]], "Ward 'B'": WARD}
    values = fake.api_requests("values")
    assert len(values) == 3
    assert all(r.query["ranges"] == ["'OPD'", "'Ward ''B'''"] for r in values)
    assert all(r.query["valueRenderOption"] == ["FORMATTED_VALUE"] for r in values)
    assert len(fake.api_requests("metadata")) == 1 + 3  # open_by_key, then one tab listing per poll
    assert source.usage.attempts == 7


def test_configured_tabs_cost_one_read_per_poll(fake: FakeSheets, private_key: str) -> None:
    source = _source(fake, private_key, tabs=("Ward 'B'",))
    for _ in range(3):
        assert source.read_tabs() == {"Ward 'B'": WARD}
    assert len(fake.api_requests("values")) == 3
    assert len(fake.api_requests("metadata")) == 1


def test_requests_carry_the_service_account_token_with_the_readonly_scope(fake: FakeSheets, private_key: str) -> None:
    _source(fake, private_key).read_tabs()
    [claims] = fake.token_requests
    assert claims["iss"] == "poller@daas-test.iam.gserviceaccount.com"
    assert claims["scope"] == " ".join(READONLY_SCOPES)
    tokens = {r.bearer for r in fake.api_requests()}
    assert len(tokens) == 1 and None not in tokens
    assert all(r.status == 200 for r in fake.requests)


def test_a_429_burst_is_retried_with_growing_delays(fake: FakeSheets, private_key: str) -> None:
    sleeps = Sleeps()
    policy = sheets_backoff(initial=0.01, maximum=1.0, max_retries=6, rng=random.Random(3))
    source = _source(fake, private_key, tabs=("OPD",), backoff=policy, sleep=sleeps)
    source.read_tabs()
    fake.fail_next(429, 429, 429, 503, 500)
    assert source.read_tabs()["OPD"][1] == OPD[1]
    twin = sheets_backoff(initial=0.01, maximum=1.0, max_retries=6, rng=random.Random(3))
    expected = [twin.delay(n) for n in range(5)]
    assert sleeps.calls == expected
    assert sleeps.calls == sorted(sleeps.calls)
    assert [r.status for r in fake.api_requests("values")] == [200, 429, 429, 429, 503, 500, 200]
    assert (source.usage.retries, source.usage.last_delays) == (5, tuple(expected))


def test_retry_after_and_non_json_errors(fake: FakeSheets, private_key: str) -> None:
    sleeps = Sleeps()
    source = _source(fake, private_key, tabs=("OPD",), sleep=sleeps,
                     backoff=sheets_backoff(initial=0.01, maximum=5.0, max_retries=3))
    fake.fail_next(429, retry_after=2)
    fake.fail_next(502, json_body=False)  # an HTML page from a proxy: gspread's own client would not retry it
    source.read_tabs()
    assert sleeps.calls[0] == 2.0
    assert len(sleeps.calls) == 2


def test_the_quota_spaces_requests_out_as_the_server_sees_them(fake: FakeSheets, private_key: str) -> None:
    source = _source(fake, private_key, tabs=("OPD",), limiter=RateLimiter(2, 0.4))
    for _ in range(5):
        source.read_tabs()
    seen = fake.api_requests()
    assert len(seen) == 6  # open_by_key + 5 polls
    # The first request also waited for the token grant; the limiter's window is measured from the others.
    seen = seen[1:]
    for earlier, later in zip(seen, seen[2:], strict=False):
        assert later.at - earlier.at >= 0.4 - 0.01  # never 3 requests in any 0.4 s window


def test_retries_run_out_as_a_retryable_error(fake: FakeSheets, private_key: str) -> None:
    sleeps = Sleeps()
    source = _source(fake, private_key, tabs=("OPD",), sleep=sleeps,
                     backoff=sheets_backoff(initial=0.01, maximum=0.05, max_retries=2))
    source.read_tabs()
    fake.fail_next(503, 503, 503)
    with pytest.raises(SheetUnavailable, match="after 2 retries.*HTTP 503") as raised:
        source.read_tabs()
    assert isinstance(raised.value, Retryable)
    assert [r.status for r in fake.api_requests("values")] == [200, 503, 503, 503]
    assert source.read_tabs()["OPD"][0] == OPD[0]  # and the next poll works again


def test_unknown_spreadsheet_names_the_setting_and_the_account(fake: FakeSheets, private_key: str) -> None:
    info = json.dumps(fake.service_account_info(private_key))
    source = GoogleSheetSource("no-such-sheet", credentials=service_account_credentials(info_json=info),
                               api_base_url=fake.base_url)
    with pytest.raises(SheetAccessError, match="DAAS_GSHEET_ID.*poller@daas-test"):
        source.read_tabs()


def test_forbidden_and_unknown_tabs_are_fatal_not_retried(fake: FakeSheets, private_key: str) -> None:
    sleeps = Sleeps()
    fake.fail_next(403)
    with pytest.raises(SheetAccessError, match="share it"):
        _source(fake, private_key, sleep=sleeps).read_tabs()
    with pytest.raises(SheetAccessError, match="HTTP 400.*Unable to parse range"):
        _source(fake, private_key, tabs=("Nope",), sleep=sleeps).read_tabs()
    assert sleeps.calls == []


def test_backoff_gaps_are_visible_to_the_server(fake: FakeSheets, private_key: str) -> None:
    policy = sheets_backoff(initial=0.05, factor=4.0, maximum=5.0, max_retries=5)
    source = _source(fake, private_key, tabs=("OPD",), backoff=policy)
    source.read_tabs()
    fake.fail_next(429, 429, 429)
    source.read_tabs()
    delays = source.usage.last_delays
    measured = list(gaps(fake.api_requests("values")[1:]))
    assert len(measured) == len(delays) == 3
    for n, (gap, delay) in enumerate(zip(measured, delays, strict=True)):
        assert policy.ceiling(n) / 2 <= delay <= policy.ceiling(n)
        assert delay - 0.005 <= gap < delay + 0.5  # the server saw the whole backoff, and not much more
    assert list(delays) == sorted(delays)
