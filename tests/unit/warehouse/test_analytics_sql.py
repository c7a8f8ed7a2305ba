"""The analytics DDL runs on both warehouses; the analyst's window and table are exact."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from reference import load_geography
from warehouse.analyst import DiagnosisRank, format_table, four_week_window, top_diagnoses_sql
from warehouse.analytics import AnalyticsStatements, reference_population_rows
from warehouse.statements import POSTGRES, REDSHIFT
from warehouse.tables import WarehouseSchemas


def test_redshift_views_are_late_binding_and_portable() -> None:
    statements = AnalyticsStatements(REDSHIFT, WarehouseSchemas()).create()
    creates = [s for s in statements if s.startswith("CREATE OR REPLACE VIEW")]
    assert [s.split(" AS ", 1)[0].removeprefix("CREATE OR REPLACE VIEW ") for s in creates] == [
        '"analytics"."encounters"', '"analytics"."weekly_cases_district"', '"analytics"."weekly_cases_region"',
        '"analytics"."weekly_cases_country"', '"analytics"."diagnosis_counts_region_week"',
        '"published"."weekly_cases_district"', '"published"."weekly_cases_region"',
        '"published"."weekly_cases_country"', '"published"."top_diagnoses_region_week"']
    assert all(s.endswith(" WITH NO SCHEMA BINDING") for s in creates)
    text = "\n".join(statements)
    for postgres_only in ("DISTINCT ON", "FILTER (", "GROUPING SETS", "::", "ON CONFLICT"):
        assert postgres_only not in text
    assert not any(s.startswith("DROP") for s in statements)  # replaced in place: grants survive
    drops = [s for s in AnalyticsStatements(REDSHIFT, WarehouseSchemas()).recreate() if s.startswith("DROP VIEW")]
    assert drops[0] == 'DROP VIEW IF EXISTS "published"."top_diagnoses_region_week" CASCADE'  # dependants first
    assert AnalyticsStatements(REDSHIFT, WarehouseSchemas()).grant(["who_partner"]) == [
        'GRANT USAGE ON SCHEMA "published" TO "who_partner"',
        'GRANT SELECT ON ALL TABLES IN SCHEMA "published" TO "who_partner"']
    assert not any("SCHEMA BINDING" in s for s in AnalyticsStatements(POSTGRES, WarehouseSchemas()).create())


def test_the_reference_population_is_every_district_of_the_geography() -> None:
    rows = reference_population_rows()
    assert len(rows) == len(load_geography().districts)
    assert ("NG", "NG-LA", "Lagos", "NG-LA-IKJ", "Ikeja", 650000) in rows
    [delete, insert] = AnalyticsStatements(REDSHIFT, WarehouseSchemas()).fill_reference(rows[:2])
    assert delete == 'DELETE FROM "analytics"."reference_district_population"'
    assert insert.endswith("VALUES ('NG', 'NG-LA', 'Lagos', 'NG-LA-IKJ', 'Ikeja', 650000), "
                           "('NG', 'NG-LA', 'Lagos', 'NG-LA-ALI', 'Alimosho', 2600000)")


def test_four_weeks_means_the_iso_week_of_as_of_and_the_three_before() -> None:
    assert four_week_window(date(2026, 11, 30)) == (date(2026, 11, 9), date(2026, 11, 30))  # a Monday
    assert four_week_window(date(2026, 12, 6)) == (date(2026, 11, 9), date(2026, 12, 6))  # its Sunday


def test_the_analyst_sql_reads_the_given_schema_and_hides_small_cells() -> None:
    sql = top_diagnoses_sql("analytics")
    assert "FROM analytics.encounters" in sql and "WHERE r.cases >= 5" in sql and "rank <= %(top)s" in sql


def test_the_table_prints_each_region_once() -> None:
    ranks = [DiagnosisRank("NG", "Lagos", 1, "B54", "Unspecified malaria", 20, Decimal("52.6")),
             DiagnosisRank("NG", "Lagos", 2, "J06.9", "Acute URI", 14, Decimal("36.8"))]
    assert format_table(ranks).splitlines() == [
        "Country  Region  #  ICD-10  Diagnosis            Cases  Share",
        "-------  ------  -  ------  -------------------  -----  -----",
        "NG       Lagos   1  B54     Unspecified malaria     20  52.6%",
        "                 2  J06.9   Acute URI               14  36.8%",
    ]
    assert format_table([]).splitlines()[0].split() == ["Country", "Region", "#", "ICD-10", "Diagnosis", "Cases",
                                                        "Share"]
