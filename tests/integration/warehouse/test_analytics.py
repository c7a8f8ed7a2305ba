"""Analytics views and the analyst query against the real local warehouse, known data in."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from psycopg import sql

from reference import load_geography
from tests.integration.warehouse.lake_files import encounter, write_lake_batch
from warehouse.analyst import DiagnosisRank, format_table, four_week_window, top_diagnoses_per_region
from warehouse.analytics import publish_analytics
from warehouse.loader import load_new_manifests
from warehouse.replicator import ensure_replica_tables
from warehouse.tables import lake_columns

W47, W46, W43 = date(2026, 11, 17), date(2026, 11, 10), date(2026, 10, 20)
AS_OF = date(2026, 11, 19)
MALARIA = {"icd10_code": "B54", "icd10_name": "Unspecified malaria", "diagnosis_group": "malaria"}
URTI = {"icd10_code": "J06.9", "icd10_name": "Acute upper respiratory infection", "diagnosis_group": "respiratory"}
DIARRHOEA = {"icd10_code": "A09", "icd10_name": "Infectious gastroenteritis", "diagnosis_group": "diarrhoeal"}


def cases(tag: str, n: int, district: str, day: date, diagnosis: dict, region: str = "Lagos",
          country: str = "NG", **extra: object) -> list[dict]:
    return [encounter(f"{tag}-{i}", country_code=country, region=region, district=district, encounter_date=day,
                      **diagnosis, **extra) for i in range(n)]


LAKE = [
    *cases("ike-mal", 7, "Ikeja", W47, MALARIA),
    *cases("ali-mal", 3, "Alimosho", W47, MALARIA),
    *cases("ike-resp", 5, "Ikeja", W47, URTI),
    *cases("ike-mal46", 2, "Ikeja", W46, MALARIA),
    *cases("ali-mal46", 2, "Alimosho", W46, MALARIA),
    *cases("dala-mal", 5, "Dala", W47, MALARIA, region="Kano"),
    *cases("dala-old", 6, "Dala", W43, URTI, region="Kano"),  # before the analyst's window
    *cases("ike-late", 10, "Ikeja", date(2026, 11, 20), DIARRHOEA),  # after as_of
    *cases("sur-dia", 4, "Surulere", W46, DIARRHOEA),
    *cases("dup", 1, "Ikeja", W47, URTI),  # v1 here, v2 (Surulere) via RDS: counts once, there
]
RDS = [
    *cases("sur-mal", 6, "Surulere", W47, MALARIA, source="simuhealth"),
    *cases("sur-resp", 8, "Surulere", W47, URTI, source="simuhealth"),
    *cases("dup", 1, "Surulere", W47, URTI, source_version=2, source="simuhealth"),
    *[r for code, n in (("J00", 9), ("J06.9", 9), ("A09", 8), ("B54", 7), ("E86", 6), ("K29", 5))
      for r in cases(f"nbo-{code}", n, "Westlands", W47, {**URTI, "icd10_code": code, "icd10_name": f"name {code}"},
                     region="Nairobi", country="KE", source="simuhealth")],
]


@pytest.fixture
def published(corner):  # noqa: ANN001, ANN201
    write_lake_batch(corner.s3, corner.bucket, corner.prefix, LAKE)
    load_new_manifests(corner.settings, s3=corner.s3, conn=corner.conn, schemas=corner.schemas)
    ensure_replica_tables(corner.conn, corner.schemas.rds)
    names = [c.name for c in lake_columns()]
    with corner.conn.cursor() as cur:
        cur.executemany(sql.SQL("insert into {} ({}, source_topic, source_partition, source_offset, updated_at) "
                                "values ({}, 'health.clean.ops.v1', 0, 0, now())").format(
            sql.Identifier(corner.schemas.rds, "encounters"), sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(", ").join(sql.Placeholder() * len(names))), [tuple(r[n] for n in names) for r in RDS])
    assert publish_analytics(corner.warehouse()) == len(load_geography().districts)
    return corner


def incidence(count: int, population: int) -> Decimal:
    return (Decimal(count) * 100000 / Decimal(population)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def population(region: str, district: str | None = None) -> int:
    return sum(d.population for d in load_geography().districts.values()
               if d.region == region and (district is None or d.name == district))


def test_a_record_routed_both_ways_counts_once_in_its_newest_version(published) -> None:  # noqa: ANN001
    rows = published.rows('select district, source_version, origin from "{analytics}".encounters '
                          "where source_key = 'dup-0'")
    assert rows == [("Surulere", 2, "rds")]
    assert published.rows('select count(*) from "{analytics}".encounters') == [(len(LAKE) + len(RDS) - 1,)]


def test_weekly_district_cases_and_incidence_are_exact(published) -> None:  # noqa: ANN001
    expected = Counter((r["country_code"], r["region"], r["district"], r["diagnosis_group"], r["epi_week"])
                       for r in [*[x for x in LAKE if x["source_key"] != "dup-0"], *RDS])
    got = published.rows('select country_code, region, district, diagnosis_group, epi_week, cases, population, '
                         'incidence_per_100k from "{analytics}".weekly_cases_district')
    assert {g[:5]: g[5] for g in got} == dict(expected)
    for *key, count, pop, rate in got:
        assert pop == population(key[1], key[2])
        assert rate == incidence(count, pop)


def test_regions_and_countries_use_the_sum_of_their_districts(published) -> None:  # noqa: ANN001
    region = published.rows('select cases, population, incidence_per_100k from "{analytics}".weekly_cases_region '
                            "where region = 'Lagos' and diagnosis_group = 'malaria' and epi_week = '2026W47'")
    assert region == [(16, population("Lagos"), incidence(16, population("Lagos")))]
    nigeria = sum(d.population for d in load_geography().districts.values() if d.country_code == "NG")
    country = published.rows('select cases, population from "{analytics}".weekly_cases_country '
                             "where country_code = 'NG' and diagnosis_group = 'malaria' and epi_week = '2026W47'")
    assert country == [(21, nigeria)]


def test_published_views_hide_small_cells_and_their_giveaway_sibling(published) -> None:  # noqa: ANN001
    got = dict(((d, g, w), (c, s)) for d, g, w, c, s in published.rows(
        'select district, diagnosis_group, epi_week, cases, suppressed from "{published}".weekly_cases_district '
        "where region = 'Lagos'"))
    assert got == {
        ("Ikeja", "malaria", "2026W47"): (7, False),
        ("Alimosho", "malaria", "2026W47"): (None, True),  # 3 cases
        ("Surulere", "malaria", "2026W47"): (None, True),  # 6, but Lagos 16 - 7 - 6 would reveal Alimosho
        ("Ikeja", "respiratory", "2026W47"): (5, False),
        ("Surulere", "respiratory", "2026W47"): (9, False),
        ("Ikeja", "malaria", "2026W46"): (None, True),
        ("Alimosho", "malaria", "2026W46"): (None, True),  # two hidden: no third needed
        ("Surulere", "diarrhoeal", "2026W46"): (None, True),
        ("Ikeja", "diarrhoeal", "2026W47"): (10, False),
    }
    hidden = published.rows('select count(*) from "{published}".weekly_cases_district '
                            "where suppressed and (cases is not null or incidence_per_100k is not null)")
    assert hidden == [(0,)]
    regions = dict(((r, g, w), c) for r, g, w, c in published.rows(
        'select region, diagnosis_group, epi_week, cases from "{published}".weekly_cases_region'))
    assert regions[("Lagos", "malaria", "2026W46")] is None and regions[("Lagos", "malaria", "2026W47")] == 16


def test_top_diagnoses_view_ranks_only_counts_of_five_or_more(published) -> None:  # noqa: ANN001
    nairobi = published.rows('select rank, icd10_code, cases from "{published}".top_diagnoses_region_week '
                             "where region = 'Nairobi' order by rank")
    assert nairobi == [(1, "J00", 9), (2, "J06.9", 9), (3, "A09", 8), (4, "B54", 7), (5, "E86", 6), (6, "K29", 5)]
    lagos46 = published.rows('select count(*) from "{published}".top_diagnoses_region_week '
                             "where region = 'Lagos' and epi_week = '2026W46'")
    assert lagos46 == [(0,)]  # B54 4, A09 4: both small


def test_the_analyst_query_top_five_per_region_in_the_last_four_weeks(published) -> None:  # noqa: ANN001
    assert four_week_window(AS_OF) == (date(2026, 10, 26), AS_OF)
    ranks = top_diagnoses_per_region(published.conn, as_of=AS_OF, schema=published.schemas.analytics)
    # Lagos: B54 20, J06.9 14 (the dup once), A09 4 (not shown, but in the total of 38); late and old
    # records are outside the window.
    assert ranks == [
        DiagnosisRank("KE", "Nairobi", 1, "J00", "name J00", 9, Decimal("20.5")),
        DiagnosisRank("KE", "Nairobi", 2, "J06.9", "name J06.9", 9, Decimal("20.5")),
        DiagnosisRank("KE", "Nairobi", 3, "A09", "name A09", 8, Decimal("18.2")),
        DiagnosisRank("KE", "Nairobi", 4, "B54", "name B54", 7, Decimal("15.9")),
        DiagnosisRank("KE", "Nairobi", 5, "E86", "name E86", 6, Decimal("13.6")),
        DiagnosisRank("NG", "Kano", 1, "B54", "Unspecified malaria", 5, Decimal("100.0")),
        DiagnosisRank("NG", "Lagos", 1, "B54", "Unspecified malaria", 20, Decimal("52.6")),
        DiagnosisRank("NG", "Lagos", 2, "J06.9", "Acute upper respiratory infection", 14, Decimal("36.8")),
    ]
    table = format_table(ranks).splitlines()
    assert table[0].split() == ["Country", "Region", "#", "ICD-10", "Diagnosis", "Cases", "Share"]
    assert table[2].split()[:4] == ["KE", "Nairobi", "1", "J00"] and table[3].split()[:2] == ["2", "J06.9"]
    assert table[-1].split()[-2:] == ["14", "36.8%"]
