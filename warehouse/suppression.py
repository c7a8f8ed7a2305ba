"""Which published cells to hide so that no small count can be worked out: no I/O.

The published views share totals. Per country, diagnosis group and ISO week:

- a country's count is the sum of its regions' (``weekly_cases_country`` /
  ``weekly_cases_region``);
- a region's count is the sum of its districts' (``weekly_cases_region`` /
  ``weekly_cases_district``);
- a region's count is also the sum of its ICD-10 codes of that group
  (``top_diagnoses_region_week`` names each code's group); the codes it does not list
  add up to the rest, which anyone can compute.

Hiding each count of 1 to 4 (*primary* suppression) is not enough: with a total and
all siblings but one shown, the hidden one is a subtraction away; two hidden siblings
whose total is 2 are both 1; a region hidden among its country's regions is the sum of
its districts. This module plays the person trying: every published cell is a
variable, shown ones are known exactly, a hidden row holds at least 1 case (it would
not be a row otherwise), the codes not listed hold at least 0, and the sums above are
propagated as bounds until nothing changes (:func:`attack`). On these sums, which
form a tree per group and week, that is as much as any combination of subtractions
can learn. A hidden count is *disclosed* when its bounds meet; the unlisted rest of a
region's codes is disclosed when it is known and 1 to 4.

:func:`protect` hides the small counts, then while :func:`attack` discloses something
hides one more cell (*complementary* suppression): the smallest shown count in the
sum that gave it away, children before the parent. Each round hides a cell, so it
ends; hiding everything would be safe. ``warehouse.analytics`` publishes the result.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["Cell", "Component", "attack", "components", "protect"]

_INF = math.inf

Cell = tuple[str, ...]
"""("country", cc) | ("region", cc, region) | ("district", cc, region, district) |
("code", cc, region, icd10) | ("rest", cc, region): the codes of the group not listed."""


@dataclass
class Component:
    """The cells of one country, diagnosis group and week, and the sums that tie them."""

    counts: dict[Cell, int] = field(default_factory=dict)
    listed: set[Cell] = field(default_factory=set)  # codes the top-diagnoses view may list

    def sums(self, hidden: set[Cell]) -> list[tuple[Cell, list[Cell]]]:
        """(total, parts) for every published sum, given the ``hidden`` cells; a region's
        codes are the ones listed and not hidden, then the rest (all others together)."""
        regions: dict[Cell, list[Cell]] = defaultdict(list)
        districts: dict[Cell, list[Cell]] = defaultdict(list)
        codes: dict[Cell, list[Cell]] = defaultdict(list)
        country: Cell | None = None
        for cell in self.counts:
            if cell[0] == "country":
                country = cell
            elif cell[0] == "region":
                regions[("country", cell[1])].append(cell)
            elif cell[0] == "district":
                districts[("region", *cell[1:3])].append(cell)
            elif cell[0] == "code" and cell in self.listed and cell not in hidden:
                codes[("region", *cell[1:3])].append(cell)
        out: list[tuple[Cell, list[Cell]]] = []
        if country is not None:
            out.append((country, sorted(regions[country])))
        for region in sorted(c for c in self.counts if c[0] == "region"):
            out.append((region, sorted(districts[region])))
            out.append((region, [*sorted(codes[region]), ("rest", *region[1:])]))
        return out


def components(district_rows: Iterable[tuple[str, str, str, str, str, int]],
               code_rows: Iterable[tuple[str, str, str, str, str, int]]) -> dict[tuple[str, str, str], Component]:
    """Components keyed (country, group, week) from district counts
    (country, region, district, group, week, cases) and region code counts
    (country, region, icd10, group, week, cases); regions and countries are their sums."""
    out: dict[tuple[str, str, str], Component] = defaultdict(Component)
    for cc, region, district, group, week, cases in district_rows:
        counts = out[(cc, group, week)].counts
        counts[("district", cc, region, district)] = int(cases)
        for total in (("region", cc, region), ("country", cc)):
            counts[total] = counts.get(total, 0) + int(cases)
    for cc, region, code, group, week, cases in code_rows:
        out[(cc, group, week)].counts[("code", cc, region, code)] = int(cases)
    return dict(out)


def attack(cells: Iterable[Cell], shown: Mapping[Cell, int | None],
           sums: Sequence[tuple[Cell, list[Cell]]]) -> dict[Cell, tuple[float, float]]:
    """Bounds an outsider derives for every cell from ``shown`` (cell -> published count,
    None for a row shown as suppressed) and the published ``sums``. A suppressed row
    starts at [1, inf), a cell that is not a row (a region's unlisted codes together)
    at [0, inf). ``cells``: every cell to report on (those in ``sums`` are added)."""
    bounds: dict[Cell, list[float]] = {}
    for cell in {*cells, *(p for _, parts in sums for p in parts), *(t for t, _ in sums)}:
        value = shown.get(cell)
        if value is not None:
            bounds[cell] = [value, value]
        else:
            bounds[cell] = [1 if cell in shown else 0, _INF]
    for _ in range(1000):
        changed = False
        for total, parts in sums:
            t = bounds[total]
            los = [bounds[p][0] for p in parts]
            his = [bounds[p][1] for p in parts]
            lo_sum, hi_sum = sum(los), sum(his)
            if lo_sum > t[0]:
                t[0], changed = lo_sum, True
            if hi_sum < t[1]:
                t[1], changed = hi_sum, True
            for i, part in enumerate(parts):
                b = bounds[part]
                lo = t[0] - (hi_sum - his[i])
                hi = t[1] - (lo_sum - los[i])
                if lo > b[0]:
                    b[0], changed = lo, True
                if hi < b[1]:
                    b[1], changed = hi, True
        if not changed:
            return {cell: (b[0], b[1]) for cell, b in bounds.items()}
    raise AssertionError("bounds did not settle: the counts do not add up")  # consistent sums settle in a few passes


def disclosed(component: Component, hidden: set[Cell], threshold: int) -> list[Cell]:
    """Hidden cells whose bounds meet, and rests known to hold 1 to threshold-1 cases."""
    shown = _shown(component, hidden)
    bounds = attack(shown, shown, component.sums(hidden))
    out = []
    for cell, (lo, hi) in sorted(bounds.items()):
        if lo != hi:
            continue
        if cell[0] == "rest":
            if 1 <= lo < threshold:
                out.append(cell)
        elif cell in shown and shown[cell] is None:
            out.append(cell)
    return out


def _shown(component: Component, hidden: set[Cell]) -> dict[Cell, int | None]:
    shown: dict[Cell, int | None] = {}
    for cell, count in component.counts.items():
        if cell[0] == "code":
            if cell in component.listed and cell not in hidden:
                shown[cell] = count  # unlisted codes are not rows: they are part of the rest
        else:
            shown[cell] = None if cell in hidden else count
    return shown


def protect(component: Component, threshold: int) -> set[Cell]:
    """The cells to hide: counts under ``threshold``, then complements until nothing is disclosed.

    Codes are hidden by not listing them; ``component.listed`` should hold only codes
    of ``threshold`` or more.
    """
    hidden = {c for c, n in component.counts.items() if c[0] != "code" and 0 < n < threshold}
    hidden |= {c for c in component.listed if component.counts[c] < threshold}
    while True:
        leaks = disclosed(component, hidden, threshold)
        if not leaks:
            return hidden
        hidden.add(_complement(component, hidden, component.sums(hidden), leaks[0]))


def _complement(component: Component, hidden: set[Cell], sums: Sequence[tuple[Cell, list[Cell]]],
                leak: Cell) -> Cell:
    """The cell to hide next for ``leak``: the smallest shown part of a sum it is in
    (the sums it is a total of first, then the one it is a part of), else that sum's
    shown total, else the smallest shown cell of the component."""
    def visible(cells: Iterable[Cell]) -> list[Cell]:
        return sorted((c for c in cells if c != leak and _is_shown(component, hidden, c)),
                      key=lambda c: (component.counts[c], c))

    as_total = [parts for total, parts in sums if total == leak]
    as_part = [(total, parts) for total, parts in sums if leak in parts]
    for parts in as_total:
        if found := visible(parts):
            return found[0]
    for total, parts in as_part:
        if found := visible(parts):
            return found[0]
    for total, _ in as_part:
        if found := visible([total]):
            return found[0]
    return visible(component.counts)[0]


def _is_shown(component: Component, hidden: set[Cell], cell: Cell) -> bool:
    if cell not in component.counts or cell in hidden:
        return False
    return cell[0] != "code" or cell in component.listed
