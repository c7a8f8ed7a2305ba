"""National id and phone formats, checked against known-good examples."""

from __future__ import annotations

import random
import re
from datetime import date

import pytest

from producers.simuhealth.identifiers import (
    ghana_card_number,
    luhn_check_digit,
    luhn_valid,
    national_id,
    phone_number,
    za_id_number,
)


def test_luhn_matches_published_examples() -> None:
    assert luhn_check_digit("7992739871") == 3
    assert luhn_valid("79927398713") and not luhn_valid("79927398714")
    assert luhn_valid("8001015009087")  # the South African ID used in public documentation


def test_za_id_encodes_birth_date_sex_and_citizenship() -> None:
    number = za_id_number(date(1990, 5, 17), "M", 123)
    assert number == "9005175123082" and luhn_valid(number)
    female = za_id_number(date(2004, 2, 29), "F", 4999, citizen=False)
    assert female[:6] == "040229" and female[6:10] == "4999" and female[10] == "1" and luhn_valid(female)


def test_ghana_card_has_prefix_nine_digits_and_check_digit() -> None:
    assert ghana_card_number("123456789") == "GHA-123456789-7"


@pytest.mark.parametrize(
    ("country", "pattern"),
    [("NG", r"[1-9]\d{10}"), ("KE", r"[1-3]\d{7}"), ("GH", r"GHA-\d{9}-\d"), ("UG", r"CF88\d{5}[A-Z0-9]{5}"),
     ("ZA", r"880301[0-4]\d{3}[01]8\d"), ("CD", r"[1-9]\d{9}")],
)
def test_national_ids_per_country(country: str, pattern: str) -> None:
    rng = random.Random(1)
    for _ in range(200):
        assert re.fullmatch(pattern, national_id(country, rng, "F", date(1988, 3, 1)))


@pytest.mark.parametrize(
    ("country", "pattern"),
    [("NG", r"\+234\d{10}|\+234 \d{3} \d{3} \d{4}|0\d{3} \d{3} \d{4}"),
     ("KE", r"\+254\d{9}|\+254 \d{3} \d{6}|0\d{3} \d{6}"),
     ("GH", r"\+233\d{9}|\+233 \d{2} \d{3} \d{4}|0\d{2} \d{3} \d{4}"),
     ("UG", r"\+256\d{9}|\+256 \d{3} \d{6}|0\d{3} \d{6}"),
     ("ZA", r"\+27\d{9}|\+27 \d{2} \d{3} \d{4}|0\d{2} \d{3} \d{4}"),
     ("CD", r"\+243\d{9}|\+243 \d{2} \d{3} \d{4}|0\d{2} \d{3} \d{4}")],
)
def test_phone_numbers_use_the_country_plan(country: str, pattern: str) -> None:
    rng = random.Random(2)
    numbers = [phone_number(country, rng) for _ in range(300)]
    assert all(re.fullmatch(pattern, n) for n in numbers), numbers[:5]
    assert len({n[0:2] for n in numbers}) >= 2  # several writing styles
