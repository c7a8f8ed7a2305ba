"""National identity numbers and phone numbers in each country's format.

The processors must strip all of these; tests scan clean topics for them, so
the formats follow the real ones closely (ZA ids carry the birth date, sex and a
Luhn check digit; Ugandan NINs the sex and birth year).
"""

from __future__ import annotations

import random
from datetime import date

__all__ = [
    "PHONE_COUNTRY_CODES",
    "ghana_card_number",
    "luhn_check_digit",
    "luhn_valid",
    "national_id",
    "phone_number",
    "za_id_number",
]

# country -> (calling code, mobile prefixes of the national number, subscriber digits, grouping)
_PHONE_PLANS: dict[str, tuple[str, tuple[str, ...], int, tuple[int, ...]]] = {
    "NG": ("234", ("803", "806", "813", "816", "810", "814", "903", "906", "703", "706", "805", "807",
                   "815", "811", "905", "705", "802", "808", "812", "701", "708", "902", "907", "901",
                   "809", "817", "818", "909", "908"), 7, (3, 3, 4)),
    "KE": ("254", tuple(f"7{n:02d}" for n in (*range(10, 30), *range(40, 49), 57, 58, 59, 68, 69,
                                              *range(90, 100), *range(30, 40), *range(50, 57), *range(85, 90)))
           + ("100", "101", "102", "110", "111", "112", "113", "114", "115"), 6, (3, 6)),
    "GH": ("233", ("24", "54", "55", "59", "53", "25", "20", "50", "26", "56", "27", "57"), 7, (2, 3, 4)),
    "UG": ("256", ("772", "774", "775", "776", "777", "778", "782", "783", "784", "760", "761", "762",
                   "700", "701", "702", "703", "704", "705", "750", "751", "752", "753", "754", "740"), 6, (3, 6)),
    "ZA": ("27", ("60", "61", "62", "63", "64", "65", "66", "71", "72", "73", "74", "76", "78", "79",
                  "81", "82", "83", "84"), 7, (2, 3, 4)),
    "CD": ("243", ("81", "82", "83", "84", "85", "89", "97", "99", "98", "90"), 7, (2, 3, 4)),
}
PHONE_COUNTRY_CODES = {country: plan[0] for country, plan in _PHONE_PLANS.items()}
_UPPER_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_check_digit(digits: str) -> int:
    """The Luhn digit that makes ``digits + str(result)`` pass :func:`luhn_valid`."""
    reverse = digits[::-1]
    total = sum(_LUHN_DOUBLED[int(c)] for c in reverse[::2]) + sum(int(c) for c in reverse[1::2])
    return (10 - total % 10) % 10


def luhn_valid(number: str) -> bool:
    """Whether a digit string ends in its correct Luhn check digit."""
    return number.isdigit() and len(number) > 1 and luhn_check_digit(number[:-1]) == int(number[-1])


def za_id_number(birth: date, sex: str, sequence: int, *, citizen: bool = True) -> str:
    """South African ID: YYMMDD, SSSS (0000-4999 F, 5000-9999 M), citizenship, 8, Luhn digit."""
    gender = sequence % 5000 + (5000 if sex == "M" else 0)
    body = f"{birth:%y%m%d}{gender:04d}{0 if citizen else 1}8"
    return f"{body}{luhn_check_digit(body)}"


def ghana_card_number(digits: str) -> str:
    """Ghana Card personal id ``GHA-XXXXXXXXX-X`` (the check digit here is a Luhn stand-in)."""
    return f"GHA-{digits}-{luhn_check_digit(digits)}"


def _digits(rng: random.Random, count: int) -> str:
    """``count`` (at most 15) uniform random digits."""
    return str(int(rng.random() * 10**count)).zfill(count)


def national_id(country: str, rng: random.Random, sex: str, birth: date) -> str:
    """A national identity number in the country's format.

    NG: 11-digit NIN. KE: 8-digit national ID card number. GH: Ghana Card. UG:
    14-character NIN, ``C`` + sex + birth year + 5 digits + 5 letters/digits. ZA:
    13-digit ID. CD has no national id number: a 10-digit voter-card number.
    """
    if country == "NG":
        return f"{rng.randrange(10**10, 10**11)}"
    if country == "KE":
        return f"{rng.randrange(10_000_000, 40_000_000)}"
    if country == "GH":
        return ghana_card_number(f"{rng.randrange(10**8, 10**9)}")
    if country == "UG":
        tail = "".join(rng.choices(_UPPER_ALNUM, k=5))
        return f"C{sex}{birth:%y}{_digits(rng, 5)}{tail}"
    if country == "ZA":
        return za_id_number(birth, sex, rng.randrange(5000), citizen=rng.random() < 0.97)
    if country == "CD":
        return f"{rng.randrange(10**9, 10**10)}"
    raise ValueError(f"no national id format for country {country!r}")


def phone_number(country: str, rng: random.Random) -> str:
    """A mobile number as clinics write it: national (0803 123 4567), E.164 or spaced international."""
    calling, prefixes, subscriber, grouping = _PHONE_PLANS[country]
    rand = rng.random
    national = prefixes[int(rand() * len(prefixes))] + str(int(rand() * 10**subscriber)).zfill(subscriber)
    style = rand()
    if style < 0.35:
        return f"+{calling}{national}"
    first, second = grouping[0], grouping[0] + grouping[1]
    spaced = f"{national[:first]} {national[first:second]} {national[second:]}" if len(grouping) == 3 else (
        f"{national[:first]} {national[first:]}")
    if style < 0.55:
        return f"+{calling} {spaced}"
    return f"0{spaced}"
