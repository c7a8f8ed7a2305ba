"""No suppressed count can be worked out from the published views, on the real warehouse.

The attacker here reads only ``published.*`` and knows how the views add up: a country's
count is the sum of its regions', a region's the sum of its districts', and a region's
count of a diagnosis group is the sum of the codes ``top_diagnoses_region_week`` lists
for that group plus the codes it does not list. Each suppressed row holds at least
one case. Every subtraction those sums allow is tried, again and again with what the
previous ones taught (interval bounds propagated until nothing changes), and no
suppressed count may come out exact, nor may the unlisted codes of a region be known
to hold 1 to 4 cases (the issue's "12 - 9 = 3").

This auditor is written apart from ``warehouse.suppression`` on purpose: the
publisher's own attacker must not be the only judge of its work.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta

import pytest

from producers.simuhealth import SimuHealthGenerator
from reference import load_icd10
from tests.integration.warehouse.lake_files import encounter, write_lake_batch
from warehouse.analytics import SMALL_CELL_THRESHOLD, publish_analytics
from warehouse.loader import load_new_manifests

W47 = date(2026, 11, 16)
MALARIA = {"icd10_code": "B54", "icd10_name": "Unspecified malaria", "diagnosis_group": "malaria"}
FALCIPARUM = {"icd10_code": "B50.9", "icd10_name": "Plasmodium falciparum malaria", "diagnosis_group": "malaria"}
URTI = {"icd10_code": "J06.9", "icd10_name": "Acute upper respiratory infection", "diagnosis_group": "respiratory"}
COLD = {"icd10_code": "J00", "icd10_name": "Acute nasopharyngitis", "diagnosis_group": "respiratory"}
DIARRHOEA = {"icd10_code": "A09", "icd10_name": "Infectious gastroenteritis", "diagnosis_group": "diarrhoeal"}


def _cases(tag: str, n: int, district: str, region: str, diagnosis: dict, country: str = "NG",
           day: date = W47) -> list[dict]:
    return [encounter(f"{tag}-{i}", country_code=country, region=region, district=district, encounter_date=day,
                      **diagnosis) for i in range(n)]


# Each block is a way today's views gave a small count away.
CRAFTED = [
    # The case: Kano malaria 12 = B54 9 (listed) + B50.9 3 (not listed): 12 - 9 = 3.
    *_cases("kano-b54", 9, "Dala", "Kano", MALARIA), *_cases("kano-b50", 3, "Dala", "Kano", FALCIPARUM),
    # Two small districts of 1 beside an 8 under a published 10: both must be 1.
    *_cases("lagos-ike", 8, "Ikeja", "Lagos", URTI), *_cases("lagos-ali", 1, "Alimosho", "Lagos", URTI),
    *_cases("lagos-sur", 1, "Surulere", "Lagos", URTI),
    # A region hidden beside a small one, whose districts are all shown: its sum gives it away.
    *_cases("kd-zar", 7, "Zaria", "Kaduna", DIARRHOEA), *_cases("kd-kad", 6, "Kaduna North", "Kaduna", DIARRHOEA),
    *_cases("la-ike", 2, "Ikeja", "Lagos", DIARRHOEA), *_cases("kn-dal", 20, "Dala", "Kano", DIARRHOEA),
    # A group whose listed codes leave 1 to 4 for the rest in a region with one district.
    *_cases("nbo-j00", 9, "Westlands", "Nairobi", COLD, "KE"), *_cases("nbo-j06", 4, "Westlands", "Nairobi", URTI, "KE"),
]


def _simuhealth(records: int, seed: int) -> list[dict]:
    """Realistic traffic: SimuHealth encounters (three countries, six weeks) as clean lake rows."""
    icd = load_icd10()
    start = date(2026, 10, 5)
    generator = SimuHealthGenerator(seed, countries=["NG", "KE", "GH"], start=start, end=start + timedelta(weeks=6))
    out = []
    for raw in generator.generate(records):
        code = raw["diagnosis"]["icd10_code"]
        out.append(encounter(raw["encounter_id"], country_code=raw["country_code"], region=raw["region"],
                             district=raw["district"], facility_id=raw["facility_id"], icd10_code=code,
                             icd10_name=icd[code].name, diagnosis_group=icd[code].group,
                             encounter_date=raw["encounter_time"].date()))
    return out


def _publish(corner, records: list[dict]):  # noqa: ANN001, ANN202
    write_lake_batch(corner.s3, corner.bucket, corner.prefix, records)
    load_new_manifests(corner.settings, s3=corner.s3, conn=corner.conn, schemas=corner.schemas)
    publish_analytics(corner.warehouse())
    return corner


def _attack(corner) -> tuple[list[str], dict, int]:  # noqa: ANN001
    """Every subtraction the published views allow, repeated until nothing new is learned.

    Returns what was disclosed, the bounds learned, and how many suppressed rows there were.
    """
    inf = math.inf
    bounds: dict[tuple, list[float]] = {}
    suppressed: list[tuple] = []

    def cell(key: tuple, cases: int | None) -> tuple:
        bounds[key] = [cases, cases] if cases is not None else [1, inf]
        if cases is None:
            suppressed.append(key)
        return key

    regions, districts, codes = defaultdict(list), defaultdict(list), defaultdict(list)
    countries: dict[tuple, tuple] = {}
    for cc, group, week, cases in corner.rows(
            'select country_code, diagnosis_group, epi_week, cases from "{published}".weekly_cases_country'):
        countries[(cc, group, week)] = cell(("country", cc, group, week), cases)
    region_cells: dict[tuple, tuple] = {}
    for cc, region, group, week, cases in corner.rows(
            'select country_code, region, diagnosis_group, epi_week, cases from "{published}".weekly_cases_region'):
        key = cell(("region", cc, region, group, week), cases)
        region_cells[(cc, region, group, week)] = key
        regions[(cc, group, week)].append(key)
    for cc, region, district, group, week, cases in corner.rows(
            'select country_code, region, district, diagnosis_group, epi_week, cases '
            'from "{published}".weekly_cases_district'):
        districts[(cc, region, group, week)].append(cell(("district", cc, region, district, group, week), cases))
    for cc, region, week, code, group, cases in corner.rows(
            'select country_code, region, epi_week, icd10_code, diagnosis_group, cases '
            'from "{published}".top_diagnoses_region_week'):
        codes[(cc, region, group, week)].append(cell(("code", cc, region, code, week), cases))
    sums: list[tuple[tuple, list[tuple]]] = []
    for key, parts in regions.items():
        sums.append((countries[key], parts))
    for key, parts in districts.items():
        sums.append((region_cells[key], parts))
    for key, region in region_cells.items():
        rest = ("rest", *key)
        bounds[rest] = [0, inf]  # the codes not listed: any number of them, maybe none
        sums.append((region, [*codes.get(key, []), rest]))

    for _ in range(200):
        learned = False
        for total, parts in sums:
            t, ps = bounds[total], [bounds[p] for p in parts]
            lo_sum, hi_sum = sum(p[0] for p in ps), sum(p[1] for p in ps)
            if lo_sum > t[0] or hi_sum < t[1]:
                t[0], t[1], learned = max(t[0], lo_sum), min(t[1], hi_sum), True
            for p in ps:
                lo, hi = t[0] - (hi_sum - p[1]), t[1] - (lo_sum - p[0])
                if lo > p[0] or hi < p[1]:
                    p[0], p[1], learned = max(p[0], lo), min(p[1], hi), True
        if not learned:
            break
    else:
        raise AssertionError("the attack did not settle")
    disclosed = [f"{key} = {bounds[key][0]}" for key in suppressed if bounds[key][0] == bounds[key][1]]
    disclosed += [f"{key} (unlisted codes) = {b[0]}" for key, b in bounds.items()
                  if key[0] == "rest" and b[0] == b[1] and 1 <= b[0] < SMALL_CELL_THRESHOLD]
    return disclosed, bounds, len(suppressed)


def _truth(corner) -> dict[tuple, int]:  # noqa: ANN001
    out = {}
    for level, keys in (("country", "country_code"), ("region", "country_code, region"),
                        ("district", "country_code, region, district")):
        for *key, group, week, cases in corner.rows(
                f'select {keys}, diagnosis_group, epi_week, cases from "{{analytics}}".weekly_cases_{level}'):
            out[(level, *key, group, week)] = cases
    return out


@pytest.mark.parametrize("data", ["crafted", "simuhealth"])
def test_no_suppressed_count_can_be_worked_out_from_the_published_views(corner, data: str) -> None:  # noqa: ANN001
    records = CRAFTED if data == "crafted" else _simuhealth(6000, seed=5)
    _publish(corner, records)
    disclosed, bounds, suppressed = _attack(corner)
    assert disclosed == []
    assert suppressed >= (5 if data == "crafted" else 300)  # the attack had something to try
    # The attacker reasons soundly: every true count lies within what it learned.
    for key, cases in _truth(corner).items():
        lo, hi = bounds[key]
        assert lo <= cases <= hi, (key, cases, lo, hi)


def test_suppression_hides_no_more_than_it_must_on_real_traffic(corner) -> None:  # noqa: ANN001
    _publish(corner, _simuhealth(6000, seed=5))
    rows = corner.rows('select cases, suppressed from "{published}".weekly_cases_district') + corner.rows(
        'select cases, suppressed from "{published}".weekly_cases_region')
    hidden_large = corner.rows(
        'select count(*) from "{published}".weekly_cases_district p join "{analytics}".weekly_cases_district a '
        "using (country_code, region, district, diagnosis_group, epi_week) where p.suppressed and a.cases >= 5")
    small = sum(1 for cases, s in rows if s)
    assert all((cases is None) == s for cases, s in rows)
    # Complements are a minority of what is hidden: most hidden cells are small ones.
    assert hidden_large[0][0] < small / 2, (hidden_large, small)
