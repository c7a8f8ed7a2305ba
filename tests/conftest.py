"""Session fixtures: real Kafka, S3 and PostgreSQL, and unique names per test."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.support.endpoints import Endpoints, provide_endpoints


@pytest.fixture(scope="session")
def endpoints() -> Iterator[Endpoints]:
    """Servers for the whole session (environment, testcontainers or the local stack)."""
    with provide_endpoints() as found:
        yield found


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Names no other test uses: `unique_name("raw")` -> `t-raw-test-foo-1a2b3c4d`."""
    test = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40]
    token = uuid.uuid4().hex[:8]
    return lambda prefix: f"t-{prefix}-{test}-{token}"
