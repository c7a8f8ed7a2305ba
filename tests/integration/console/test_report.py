"""`daas report` rendered in headless Chromium, on a warehouse with known rows: every chart
decodes and is laid out at a real size, every table has its rows, suppressed cells stay
hidden, the curves carry the detector's thresholds; an empty warehouse says so.

The warehouse is a private corner of the real local PostgreSQL (unique schemas per
test, dropped afterwards); the lake rows go through the real loader and the real
``publish_analytics`` (suppression included). The screenshot of the full report is kept
in ``.runtime/test-artifacts/report.png``.
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from matplotlib import image as mpimg
from psycopg import sql

from console.report import write_report
from stream_processors.surveillance.detection import ears_c2_threshold
from tests.integration.warehouse.conftest import Corner, corner  # noqa: F401 - the fixture
from tests.integration.warehouse.lake_files import encounter, write_lake_batch
from warehouse.analytics import publish_analytics
from warehouse.loader import load_new_manifests
from warehouse.tables import WarehouseSchemas

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / ".runtime" / "test-artifacts"
TODAY = date(2026, 11, 12)  # a Thursday of 2026W46: the report week is 2026W45
WEEKS = [f"2026W{w:02d}" for w in range(30, 46)]
KANO_MALARIA = [10, 11, 12, 10, 9, 11, 10, 12, 11, 10, 11, 12, 10, 11, 35, 48]  # an outbreak in W44-W45
DALA_MENINGITIS = {"2026W40": 6, "2026W41": 7, "2026W42": 8, "2026W43": 9, "2026W44": 40, "2026W45": 85}
MALARIA = {"icd10_code": "B54", "icd10_name": "Unspecified malaria", "diagnosis_group": "malaria"}
FALCIPARUM = {"icd10_code": "B50.9", "icd10_name": "Plasmodium falciparum malaria, unspecified",
              "diagnosis_group": "malaria"}
MENINGITIS = {"icd10_code": "A39.0", "icd10_name": "Meningococcal meningitis", "diagnosis_group": "meningitis"}
URTI = {"icd10_code": "J06.9", "icd10_name": "Acute upper respiratory infection", "diagnosis_group": "respiratory"}
DIARRHOEA = {"icd10_code": "A09", "icd10_name": "Infectious gastroenteritis", "diagnosis_group": "diarrhoeal"}
EXPECTED_CHARTS = {"chart-incidence_by_region", "chart-top_diagnoses", "chart-dead_letters",
                   "chart-epicurve_malaria-ng-kano_municipal", "chart-epicurve_meningitis-ng-dala",
                   "chart-epicurve_diarrhoeal-gh-ledzokuku"}
EXPECTED_TABLES = {"cases-region", "cases-district", "top-diagnoses", "alerts", "dead-letters",
                   "curve-malaria-ng-kano_municipal", "curve-meningitis-ng-dala", "curve-diarrhoeal-gh-ledzokuku"}


def monday(week: str) -> date:
    return date.fromisocalendar(int(week[:4]), int(week[5:]), 1)


def cases(tag: str, n: int, week: str, diagnosis: dict[str, str], *, district: str, region: str,
          country: str) -> list[dict[str, Any]]:
    day = monday(week) + timedelta(days=2)
    return [encounter(f"{tag}-{week}-{i}", country_code=country, region=region, district=district,
                      encounter_date=day, **diagnosis) for i in range(n)]


def lake_rows() -> list[dict[str, Any]]:
    rows = []
    for week, n in zip(WEEKS, KANO_MALARIA, strict=True):
        rows += cases("kano-b54", n - n // 3, week, MALARIA, district="Kano Municipal", region="Kano", country="NG")
        rows += cases("kano-b50", n // 3, week, FALCIPARUM, district="Kano Municipal", region="Kano", country="NG")
    for week, n in DALA_MENINGITIS.items():
        rows += cases("dala", n, week, MENINGITIS, district="Dala", region="Kano", country="NG")
    rows += cases("accra", 3, "2026W45", URTI, district="Accra Metropolitan", region="Greater Accra", country="GH")
    rows += cases("tema", 8, "2026W45", URTI, district="Tema Metropolitan", region="Greater Accra", country="GH")
    rows += cases("ledz", 4, "2026W45", DIARRHOEA, district="Ledzokuku", region="Greater Accra", country="GH")
    for week in ("2026W44", "2026W45"):
        rows += cases("west", 10, week, URTI, district="Westlands", region="Nairobi", country="KE")
    rows += cases("west-mal", 6, "2026W45", MALARIA, district="Westlands", region="Nairobi", country="KE")
    return rows


def raised(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


# (country, district, group, week, level, method, cases, incidence, threshold, raised_at)
ALERTS = [
    ("NG", "Kano Municipal", "malaria", "2026W44", "aberration", "ears_c2", 35, 5.15, 19.4, raised(date(2026, 10, 28), 9)),
    ("NG", "Kano Municipal", "malaria", "2026W45", "aberration", "ears_c2", 48, 7.06, 20.1, raised(date(2026, 11, 4), 9)),
    ("NG", "Dala", "meningitis", "2026W44", "alert", "who_meningitis_threshold", 40, 5.19, 5.0, raised(date(2026, 10, 29), 7)),
    ("NG", "Dala", "meningitis", "2026W45", "alert", "who_meningitis_threshold", 39, 5.06, 5.0, raised(date(2026, 11, 3), 7)),
    ("NG", "Dala", "meningitis", "2026W45", "epidemic", "who_meningitis_threshold", 80, 10.39, 10.0, raised(date(2026, 11, 5), 7)),
    # Raised on 6 cases; corrections moved two away, so the published week holds 4: suppressed.
    ("GH", "Ledzokuku", "diarrhoeal", "2026W45", "aberration", "ears_c2", 6, 2.61, 5.2, raised(date(2026, 11, 5), 12)),
]
# (reason, reason_codes, stage, source_topic, source_name, how many)
DEAD = [("icd10_unknown", "icd10_unknown", "processor", "health.raw.simuhealth.v1", "simuhealth", 3),
        ("required_missing", "required_missing,invalid_value", "processor", "health.raw.gsheet.v1", "gsheet", 2),
        ("rejected_by_postgres", "rejected_by_postgres", "postgres-sink", "health.clean.ops.v1", None, 1)]


def fill_events(wh: Corner) -> None:
    rds = wh.schemas.rds
    with wh.conn.cursor() as cur:
        cur.executemany(sql.SQL(
            "insert into {} (alert_id, country_code, district, diagnosis_group, epi_week, level, method, cases, "
            "incidence_per_100k, threshold, baseline_weeks, raised_at, source_topic, source_partition, source_offset, "
            "updated_at) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 7, %s, 'health.surveillance.alerts.v1', 0, "
            "%s, now())").format(sql.Identifier(rds, "surveillance_alerts")),
            [("|".join((a[0], a[1], a[2], a[3], a[4])), *a, i) for i, a in enumerate(ALERTS)])
        offset = 0
        for reason, codes, stage, topic, source, n in DEAD:
            for _ in range(n):
                cur.execute(sql.SQL(
                    "insert into {} (dlq_topic, dlq_partition, dlq_offset, failed_at, reason, reason_codes, reasons, "
                    "stage, source_topic, source_partition, source_offset, source_name, truncated, updated_at) "
                    "values ('health.dlq.v1', 0, %s, %s, %s, %s, '[]', %s, %s, 0, %s, %s, false, now())").format(
                    sql.Identifier(rds, "dead_letters")),
                    (offset, raised(date(2026, 11, 10), 8) + timedelta(minutes=offset), reason, codes, stage, topic,
                     offset, source))
                offset += 1


@pytest.fixture
def warehouse(corner: Corner) -> Corner:  # noqa: F811 - the fixture's name
    write_lake_batch(corner.s3, corner.bucket, corner.prefix, lake_rows())
    load_new_manifests(corner.settings, s3=corner.s3, conn=corner.conn, schemas=corner.schemas)
    publish_analytics(corner.warehouse())
    fill_events(corner)
    return corner


# -- Chromium ----------------------------------------------------------------------------

# Added to a copy of the report: once the page has loaded, record what Chromium made of
# every image and table, for --dump-dom to show.
_PROBE = """<script>window.addEventListener('load', () => {
  for (const img of document.images) {
    const box = img.getBoundingClientRect();
    img.dataset.probe = [img.complete, img.naturalWidth, img.naturalHeight, Math.round(box.width),
                         Math.round(box.height)].join(' ');
  }
  for (const table of document.querySelectorAll('table')) table.dataset.probe = table.tBodies[0].rows.length;
  document.body.dataset.probe = 'loaded';
});</script>"""


def chromium(args: list[str], profile: Path) -> str:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (scripts/bootstrap.sh does it)",
                    pytrace=False)
    done = subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


class Dom(HTMLParser):
    """The parts of a dumped DOM the test reads: images, tables (body rows as cell texts),
    the 'no data yet' notes and the probe's marks."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.tables: dict[str, dict[str, Any]] = {}
        self.empty = 0
        self.body: dict[str, str] = {}
        self._table: dict[str, Any] | None = None
        self._in_body = False
        self._cell: list[str] | None = None
        self._empty_open = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body = a
        elif tag == "img":
            self.images.append(a)
        elif tag == "table":
            self._table = self.tables[a.get("id", f"?{len(self.tables)}")] = {"probe": a.get("data-probe"),
                                                                              "rows": []}
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table is not None:
            self._table["rows"].append([])
        elif tag in ("td", "th") and self._in_body:
            self._cell = []
        elif tag == "p" and "empty" in a.get("class", "").split():
            self.empty += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table["rows"][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def row(self, table: str, *first: str) -> list[str]:
        (found,) = [r for r in self.tables[table]["rows"] if tuple(r[:len(first)]) == first]
        return found


def render(report: Path, tmp_path: Path) -> Dom:
    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    dom = Dom(chromium(["--virtual-time-budget=10000", "--window-size=1280,2000", "--dump-dom", probed.as_uri()],
                       tmp_path / "profile-dom"))
    assert dom.body.get("data-probe") == "loaded", "the page never finished loading in Chromium"
    return dom


def png_size(data: bytes) -> tuple[int, int]:
    pixels = mpimg.imread(io.BytesIO(data), format="png")
    return pixels.shape[1], pixels.shape[0]


# -- the tests -----------------------------------------------------------------------------


def test_the_report_renders_in_chromium_with_every_chart_and_table(warehouse: Corner, tmp_path: Path) -> None:
    out = tmp_path / "report"
    path = write_report(warehouse.settings, out, schemas=warehouse.schemas, today=TODAY)
    assert path == out / "report.html"
    dom = render(path, tmp_path)

    # Every chart: embedded, decoded by Chromium at its real size, laid out, and saved beside the page.
    assert len(dom.images) == len(EXPECTED_CHARTS)
    figures = {Path(f).stem: f for f in (p.name for p in out.glob("*.png"))}
    for img in dom.images:
        complete, natural_w, natural_h, shown_w, shown_h = img["data-probe"].split()
        assert complete == "true" and int(natural_w) >= 600 and int(natural_h) >= 200, img["alt"]
        assert int(shown_w) >= 400 and int(shown_h) >= 100, img["alt"]
        data = base64.b64decode(img["src"].removeprefix("data:image/png;base64,"))
        assert png_size(data) == (int(natural_w), int(natural_h))
        assert len(data) > 10_000
    assert {"chart-" + stem for stem in figures} == EXPECTED_CHARTS
    html = path.read_text(encoding="utf-8")
    for name in figures.values():
        assert base64.b64encode((out / name).read_bytes()).decode() in html  # the file is the embedded image

    # Every table has rows, as Chromium counted them.
    assert set(dom.tables) == EXPECTED_TABLES
    for table_id, table in dom.tables.items():
        assert int(table["probe"]) == len(table["rows"]) > 0, table_id
    assert dom.empty == 0

    # Small cells stay hidden: Accra Metropolitan had 3 respiratory cases in 2026W45.
    accra = dom.row("cases-district", "GH", "Greater Accra", "Accra Metropolitan")
    headers = ["country", "region", "district", "population"] + [f"{g} {what}" for g in
                                                                  ("meningitis", "malaria", "respiratory", "diarrhoeal")
                                                                  for what in ("cases", "per 100k")]
    assert len(accra) == len(headers)
    assert accra[headers.index("respiratory cases")] == accra[headers.index("respiratory per 100k")] == "·"
    assert "3" not in accra[4:]
    kano = dom.row("cases-district", "NG", "Kano", "Kano Municipal")
    assert [kano[headers.index(h)] for h in ("population", "meningitis cases", "malaria cases", "malaria per 100k")] \
        == ["680,000", "0", "48", "7.06"]

    # The curve carries the detector's threshold: baseline 2026W36..W42 of the known counts.
    curve = {r[0]: r for r in dom.tables["curve-malaria-ng-kano_municipal"]["rows"]}
    assert list(curve) == WEEKS
    baseline = KANO_MALARIA[WEEKS.index("2026W36"):WEEKS.index("2026W42") + 1][::-1]
    assert curve["2026W45"] == ["2026W45", "48", f"{ears_c2_threshold(baseline):,.1f}", "aberration"]
    assert curve["2026W38"][2] == "—"  # its baseline begins before the first week with data
    assert curve["2026W44"][3] == "aberration" and curve["2026W43"][3] == ""

    # The alerts, newest raised first, with the numbers only where the week is published.
    alerts = dom.tables["alerts"]["rows"]
    assert [r[0] for r in alerts] == sorted((a[9].strftime("%Y-%m-%d %H:%M UTC") for a in ALERTS), reverse=True)
    ledzokuku = dom.row("alerts", "2026-11-05 12:00 UTC")
    assert ledzokuku[2:9] == ["GH", "Greater Accra", "Ledzokuku", "diarrhoeal", "aberration", "ears_c2", "·"]
    epidemic = dom.row("alerts", "2026-11-05 07:00 UTC")
    assert epidemic[6] == "epidemic" and epidemic[8:] == ["85", "11.04", "10 per 100k"]

    # Data quality: dead letters by reason and source.
    assert [(r[0], r[2], r[4]) for r in dom.tables["dead-letters"]["rows"]] == [
        ("icd10_unknown", "simuhealth", "3"), ("required_missing", "gsheet", "2"), ("rejected_by_postgres", "—", "1")]

    # The screenshot: kept as a test artifact.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    chromium(["--window-size=1280,4000", f"--screenshot={shot}", path.as_uri()], tmp_path / "profile-shot")
    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (4000, 1280)
    assert pixels[:, :, :3].std() > 0.1  # not a blank page


def test_an_empty_warehouse_gives_a_report_that_says_no_data_yet(endpoints, unique_name, tmp_path: Path) -> None:  # noqa: ANN001
    base = unique_name("empty").replace("-", "_")[:50]
    schemas = WarehouseSchemas(lake=f"{base}_l", rds=f"{base}_r", analytics=f"{base}_a", published=f"{base}_p")
    path = write_report(endpoints.settings(), tmp_path / "report", schemas=schemas, today=TODAY)
    dom = render(path, tmp_path)
    assert dom.empty == 5 and dom.images == [] and dom.tables == {}
    assert list((tmp_path / "report").glob("*.png")) == []
