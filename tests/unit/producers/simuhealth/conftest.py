"""A year of SimuHealth traffic, generated once per session for the statistical checks."""

from __future__ import annotations

from typing import Any

import pytest

from producers.simuhealth import SimuHealthGenerator

from .support import YEAR_END, YEAR_START

SAMPLE_SIZE = 100_000
SAMPLE_SEED = 20_260_301


@pytest.fixture(scope="session")
def year_sample() -> list[dict[str, Any]]:
    """100,000 backfill encounters over 2025 in every reference country (takes a few seconds)."""
    generator = SimuHealthGenerator(SAMPLE_SEED, start=YEAR_START, end=YEAR_END)
    return list(generator.generate(SAMPLE_SIZE))
