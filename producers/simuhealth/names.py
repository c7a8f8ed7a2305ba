"""Pools of given and family names per naming tradition, built once per process.

Faker is far too slow to call per record, so each pool is drawn once from a
seeded Faker locale (keeping Faker's own name frequencies) or read from the
curated lists in ``data/names.json`` for places Faker has no locale for. The
generator then picks pool entries with its own seeded random stream.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from faker import Faker

__all__ = ["NamePool", "name_pool"]

_FAKER_DRAWS = 400
_FAKER_SEED = 20_240_601


@dataclass(frozen=True, slots=True)
class NamePool:
    """Names to draw from; repeats in a tuple make that name more common."""

    given_female: tuple[str, ...]
    given_male: tuple[str, ...]
    family_female: tuple[str, ...]
    family_male: tuple[str, ...]


@functools.cache
def _curated() -> dict[str, dict[str, dict[str, list[str]]]]:
    text = resources.files("producers.simuhealth").joinpath("data").joinpath("names.json").read_text(encoding="utf-8")
    document: dict[str, dict[str, dict[str, list[str]]]] = json.loads(text)
    return document


@functools.cache
def name_pool(source: str) -> NamePool:
    """The pool for ``faker:<locale>`` or ``names:<given set>/<family set>``."""
    kind, _, spec = source.partition(":")
    if kind == "faker":
        fake = Faker(spec)
        fake.seed_instance(_FAKER_SEED)
        family = tuple(fake.last_name() for _ in range(_FAKER_DRAWS))
        return NamePool(
            given_female=tuple(fake.first_name_female() for _ in range(_FAKER_DRAWS)),
            given_male=tuple(fake.first_name_male() for _ in range(_FAKER_DRAWS)),
            family_female=family,
            family_male=family,
        )
    if kind == "names":
        given_key, _, family_key = spec.partition("/")
        given = _curated()["given"][given_key]
        family = _curated()["family"][family_key]
        return NamePool(
            given_female=tuple(given["female"]),
            given_male=tuple(given["male"]),
            family_female=tuple(family.get("female", family.get("any", []))),
            family_male=tuple(family.get("male", family.get("any", []))),
        )
    raise ValueError(f"name source {source!r} must start with faker: or names:")
