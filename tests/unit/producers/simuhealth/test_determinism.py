"""The same seed gives the same bytes, whatever the process; another seed gives another stream."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from producers.simuhealth import Outbreak, SimuHealthGenerator

from .support import avro_bytes

ROOT = Path(__file__).resolve().parents[4]
START, END = date(2025, 3, 1), date(2025, 9, 1)
OUTBREAKS = (Outbreak("cholera", "NG-KN-DAL", "2025W20", 3, 8.0),)
SCRIPT = """
import hashlib
from datetime import date
from producers.simuhealth import Outbreak, SimuHealthGenerator
from tests.unit.producers.simuhealth.support import avro_bytes
generator = SimuHealthGenerator(7, start=date(2025, 3, 1), end=date(2025, 9, 1),
                                outbreaks=(Outbreak("cholera", "NG-KN-DAL", "2025W20", 3, 8.0),))
print(hashlib.sha256(avro_bytes(generator.generate(3000))).hexdigest())
"""


def _stream(seed: int, n: int = 20_000, countries: list[str] | None = None) -> bytes:
    outbreaks = OUTBREAKS if countries is None else ()
    generator = SimuHealthGenerator(seed, countries=countries, start=START, end=END, outbreaks=outbreaks)
    return avro_bytes(generator.generate(n))


def test_same_seed_gives_byte_identical_streams() -> None:
    assert _stream(7) == _stream(7)


def test_a_different_seed_gives_a_different_stream() -> None:
    first, second = _stream(7, 2_000), _stream(8, 2_000)
    assert first != second
    assert first[:200] != second[:200]


def test_country_order_and_spelling_do_not_matter() -> None:
    assert _stream(7, 2_000, ["UG", "KE"]) == _stream(7, 2_000, ["ke", " ug"])


def test_stream_does_not_depend_on_hash_seed_or_process() -> None:
    expected = hashlib.sha256(_stream(7, 3_000)).hexdigest()
    for hash_seed in ("1", "4242"):
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        )
        assert result.stdout.strip() == expected


def test_successive_calls_continue_the_stream() -> None:
    generator = SimuHealthGenerator(7, countries=["GH"], start=START, end=END)
    first = list(generator.generate(500))
    second = list(generator.generate(500))
    assert {r["encounter_id"] for r in first}.isdisjoint(r["encounter_id"] for r in second)
    again = SimuHealthGenerator(7, countries=["GH"], start=START, end=END)
    assert list(again.generate(500)) == first
