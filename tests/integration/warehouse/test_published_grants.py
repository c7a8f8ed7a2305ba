"""Partners keep their access to the published views when the views are republished
(every warehouse_copy run), on the real local warehouse."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from psycopg import sql

from warehouse.analytics import AnalyticsStatements, publish_analytics


@pytest.fixture
def partners(corner) -> Iterator[tuple[str, str]]:  # noqa: ANN001
    """Two roles: one granted by hand by a DBA, one listed in published_readers."""
    base = corner.schemas.published[:40]
    by_hand, configured = f"{base}_dba", f"{base}_cfg"
    for role in (by_hand, configured):
        corner.conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
    yield by_hand, configured
    for role in (by_hand, configured):
        corner.conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
        corner.conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


def can_read(corner, role: str, view: str) -> bool:  # noqa: ANN001
    [(allowed,)] = corner.rows("select has_table_privilege(%s, %s, 'SELECT') and has_schema_privilege(%s, %s, 'USAGE')",
                               role, f'"{corner.schemas.published}"."{view}"', role, corner.schemas.published)
    return allowed


def test_grants_and_a_partners_own_view_survive_a_republish(corner, partners) -> None:  # noqa: ANN001
    by_hand, configured = partners
    warehouse = corner.warehouse()
    publish_analytics(warehouse, readers=[configured])
    views = [name.split(".")[1].strip('"') for name, _ in AnalyticsStatements(warehouse.dialect, corner.schemas).views()
             if name.startswith(f'"{corner.schemas.published}".')]
    assert views and all(can_read(corner, configured, v) for v in views)
    assert not can_read(corner, by_hand, "weekly_cases_country")

    published = sql.Identifier(corner.schemas.published)
    corner.conn.execute(sql.SQL("grant usage on schema {} to {}").format(published, sql.Identifier(by_hand)))
    corner.conn.execute(sql.SQL("grant select on {}.weekly_cases_country to {}").format(
        published, sql.Identifier(by_hand)))
    partner_view = sql.Identifier(corner.schemas.published, "partner_country_totals")
    corner.conn.execute(sql.SQL("create view {} as select country_code, sum(cases) as cases from {}.weekly_cases_country"
                                " group by country_code").format(partner_view, published))

    publish_analytics(warehouse, readers=[configured])  # what every warehouse_copy run does
    publish_analytics(warehouse, readers=[configured])

    assert can_read(corner, by_hand, "weekly_cases_country")
    assert all(can_read(corner, configured, v) for v in views)
    assert corner.rows(f'select count(*) from "{corner.schemas.published}"."partner_country_totals"') == [(0,)]


def test_when_a_view_changes_shape_it_is_rebuilt_and_the_readers_keep_access(corner, partners) -> None:  # noqa: ANN001
    _, configured = partners
    warehouse = corner.warehouse()
    publish_analytics(warehouse, readers=[configured])
    # An older release's view with other columns: CREATE OR REPLACE cannot turn it into ours.
    old = sql.Identifier(corner.schemas.published, "weekly_cases_country")
    corner.conn.execute(sql.SQL("drop view {}").format(old))
    corner.conn.execute(sql.SQL("create view {} as select 1 as legacy_column").format(old))

    publish_analytics(warehouse, readers=[configured])

    columns = corner.rows("select column_name from information_schema.columns where table_schema = %s and "
                          "table_name = 'weekly_cases_country' order by ordinal_position", corner.schemas.published)
    assert ("legacy_column",) not in columns and ("cases",) in columns
    assert can_read(corner, configured, "weekly_cases_country")
