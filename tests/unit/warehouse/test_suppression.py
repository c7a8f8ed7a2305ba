"""Complementary suppression on small, exact cases: what leaked before, and that it stops."""

from __future__ import annotations

import random

import pytest

from warehouse.suppression import Component, components, disclosed, protect

T = 5


def _component(districts: list[tuple[str, str, int]], codes: list[tuple[str, str, int]] = (),
               listed: set[str] | None = None) -> Component:
    [component] = components([("NG", r, d, "malaria", "2026W47", n) for r, d, n in districts],
                             [("NG", r, c, "malaria", "2026W47", n) for r, c, n in codes]).values()
    component.listed = {c for c in component.counts if c[0] == "code" and c[3] in (listed or set())}
    return component


def test_the_issues_case_twelve_minus_nine_is_closed_by_hiding_the_listed_code() -> None:
    c = _component([("Kano", "Dala", 12)], [("Kano", "B54", 9), ("Kano", "B50.9", 3)], listed={"B54"})
    assert disclosed(c, set(), T) == [("rest", "NG", "Kano")]
    assert protect(c, T) == {("code", "NG", "Kano", "B54")}


def test_two_hidden_ones_under_a_shown_total_get_a_third_companion() -> None:
    c = _component([("Lagos", "Ikeja", 8), ("Lagos", "Alimosho", 1), ("Lagos", "Surulere", 1)])
    small = {("district", "NG", "Lagos", "Alimosho"), ("district", "NG", "Lagos", "Surulere")}
    assert sorted(disclosed(c, small, T)) == sorted(small)
    assert protect(c, T) == small | {("district", "NG", "Lagos", "Ikeja")}


def test_a_region_hidden_as_a_complement_does_not_leak_through_its_districts() -> None:
    c = _component([("Kaduna", "Zaria", 7), ("Kaduna", "Kaduna North", 6), ("Lagos", "Ikeja", 2),
                    ("Kano", "Dala", 20)])
    hidden = protect(c, T)
    assert ("region", "NG", "Lagos") in hidden and disclosed(c, hidden, T) == []
    assert ("district", "NG", "Kaduna", "Kaduna North") in hidden  # else Kaduna = 13 gives Lagos = 2 away


@pytest.mark.parametrize("seed", range(40))
def test_random_small_tables_never_disclose_after_protection(seed: int) -> None:
    rng = random.Random(seed)
    cases = {(f"R{r}", f"D{r}{d}", f"C{k}"): rng.choice([0, 0, 1, 1, 2, 3, 4, 5, 7, 12])
             for r in range(rng.randint(1, 4)) for d in range(rng.randint(1, 4)) for k in range(rng.randint(1, 3))}
    districts: dict[tuple[str, str], int] = {}
    codes: dict[tuple[str, str], int] = {}
    for (region, district, code), n in cases.items():
        if n:
            districts[(region, district)] = districts.get((region, district), 0) + n
            codes[(region, code)] = codes.get((region, code), 0) + n
    if not districts:
        return
    c = _component([(r, d, n) for (r, d), n in districts.items()], [(r, k, n) for (r, k), n in codes.items()],
                   listed={k for (_, k), n in codes.items() if n >= T})
    hidden = protect(c, T)
    assert disclosed(c, hidden, T) == []
    assert all(cell in hidden for cell, n in c.counts.items() if cell[0] != "code" and n < T)
