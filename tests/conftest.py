"""Session fixtures: real Kafka, S3 and PostgreSQL, and unique names per test that are
cleaned up after it (``tests/support/cleanup.py``)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.support.endpoints import Endpoints, provide_endpoints

_SESSION: dict[str, object] = {"endpoints": None, "names": [], "kept": []}


@pytest.fixture(scope="session")
def endpoints() -> Iterator[Endpoints]:
    """Servers for the whole session (environment, testcontainers or the local stack).

    At the end of the session, nothing a test named with ``unique_name`` may be left on
    them: a leftover fails the session (a test, or a process it started, outlived its
    cleanup).
    """
    from tests.support.cleanup import delete_test_resources, leftovers

    with provide_endpoints() as found:
        _SESSION["endpoints"] = found
        yield found
        names: list[str] = _SESSION["names"]  # type: ignore[assignment]
        kept: list[str] = _SESSION["kept"]  # type: ignore[assignment]
        left = leftovers(found, names, kept=kept)
        deadline = time.monotonic() + 15
        while left and time.monotonic() < deadline:  # a topic deleted a moment ago may still be listed
            time.sleep(1)
            left = leftovers(found, names, kept=kept)
        if left:
            delete_test_resources(found, names)  # a second try, so the next session starts clean
            raise AssertionError(f"tests left {len(left)} things on the shared stack: {left[:20]}")
        _SESSION["endpoints"] = None


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Iterator[Callable[[str], str]]:
    """Names no other test uses: `unique_name("raw")` -> `t-raw-test-foo-1a2b3c4d`.

    After the test, every topic, consumer group, schema, S3 key and runtime folder whose
    name starts with one of them is deleted (when the test used the ``endpoints``).
    """
    test = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    token = uuid.uuid4().hex[:8]
    given: list[str] = []

    def name(prefix: str) -> str:
        value = f"t-{prefix}-{test}-{token}"
        given.append(value)
        return value

    yield name
    found = _SESSION["endpoints"]
    if given and found is not None:
        from tests.support.cleanup import delete_test_resources, runtime_logs

        failed = getattr(request.node, "failed_call", False)
        if failed:  # what the stages said is the first thing anyone debugging it wants
            _SESSION["kept"].extend(given)  # type: ignore[attr-defined]
            for log, tail in runtime_logs(given):
                print(f"\n----- last lines of {log} -----\n{tail}")
        _SESSION["names"].extend(given)  # type: ignore[attr-defined]
        delete_test_resources(found, given, keep_files=failed)  # type: ignore[arg-type]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Mark a test whose call failed, for ``unique_name``'s teardown."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        item.failed_call = True  # type: ignore[attr-defined]
