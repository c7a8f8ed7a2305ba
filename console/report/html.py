"""The report as one self-contained HTML page: charts embedded as PNG data URIs, styles
inline, no script and nothing fetched, so the file can be mailed or archived alone."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from html import escape

from console.report.epi import CasesRow, Curve, ShownAlert
from console.report.queries import DeadLetterCount, Overview

__all__ = ["Chart", "Page", "render"]

SUPPRESSED = "·"
_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1c2833;padding:0 1rem;line-height:1.4}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #1f5f8b;padding-bottom:.2rem;margin-top:2.2rem}
.meta{color:#566573;font-size:.9rem}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{background:#eef3f7;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}
table{border-collapse:collapse;font-size:.82rem;margin:.8rem 0;width:100%}
th,td{border-bottom:1px solid #d5dbdb;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f6f6}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.s{color:#7f8c8d;text-align:right}caption{text-align:left;font-weight:600;padding:.3rem 0}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #e5e8e8}figcaption{font-size:.85rem;color:#566573}
.empty{background:#fdf2e9;border-left:4px solid #e67e22;padding:.6rem 1rem}
.note{font-size:.85rem;color:#566573}details{margin:.2rem 0 1.2rem}
.level-aberration{color:#b9770e;font-weight:600}.level-alert,.level-epidemic{color:#922b21;font-weight:700}
"""


@dataclass(frozen=True)
class Chart:
    """A chart: its file name next to the report, what it shows, and its PNG bytes."""

    name: str
    alt: str
    png: bytes

    @property
    def id(self) -> str:
        return "chart-" + self.name.removesuffix(".png")


@dataclass
class Page:
    """Everything the page shows, decided already (``console.report.epi``)."""

    generated_at: datetime
    overview: Overview
    week: str | None
    groups: list[str] = field(default_factory=list)
    regions: list[CasesRow] = field(default_factory=list)
    districts: list[CasesRow] = field(default_factory=list)
    top: dict[str, list[tuple[str, str, str, int, int]]] = field(default_factory=dict)
    curves: list[tuple[Curve, Chart]] = field(default_factory=list)
    alerts: list[ShownAlert] = field(default_factory=list)
    dead_letters: list[DeadLetterCount] = field(default_factory=list)
    charts: dict[str, Chart] = field(default_factory=dict)  # incidence, top, dead_letters


def _n(value: int | float | Decimal | None, digits: int = 0) -> str:
    if value is None:
        return SUPPRESSED
    return f"{value:,.{digits}f}"


def _td(value: int | float | Decimal | None, digits: int = 0) -> str:
    if value is None:
        return f'<td class="s" title="suppressed">{SUPPRESSED}</td>'
    return f'<td class="n">{_n(value, digits)}</td>'


def _time(when: datetime | None) -> str:
    return "—" if when is None else when.strftime("%Y-%m-%d %H:%M UTC")


def _table(table_id: str, caption: str, headers: Sequence[tuple[str, bool]], rows: Sequence[str]) -> str:
    head = "".join(f'<th{" class=n" if numeric else ""}>{escape(h)}</th>' for h, numeric in headers)
    return (f'<table id="{table_id}"><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _figure(chart: Chart, caption: str) -> str:
    data = base64.b64encode(chart.png).decode()
    return (f'<figure id="{chart.id}"><img src="data:image/png;base64,{data}" alt="{escape(chart.alt)}">'
            f'<figcaption>{escape(caption)} <span class="note">({escape(chart.name)})</span></figcaption></figure>')


def _empty(what: str) -> str:
    return f'<p class="empty">No data yet: {escape(what)}</p>'


def _cases_rows(rows: Sequence[CasesRow], groups: Sequence[str], *, district: bool) -> list[str]:
    out = []
    for r in rows:
        place = [r.country_code, r.region or ""] + ([r.district or ""] if district else [])
        cells = "".join(f"<td>{escape(p)}</td>" for p in place) + _td(r.population)
        for group in groups:
            cases, incidence = r.values[group]
            cells += _td(cases) + _td(incidence, 2)
        out.append(f"<tr>{cells}</tr>")
    return out


def _cases_section(page: Page) -> str:
    if page.week is None or not page.regions:
        return _empty("the published views hold no weekly counts (load the lake and publish the analytics views).")
    headers = [("population", True)] + [h for g in page.groups for h in ((f"{g} cases", True),
                                                                          (f"{g} per 100k", True))]
    parts = [f'<p>Published weekly counts of ISO week <b>{escape(page.week)}</b>, the latest complete week, for '
             f'the {len(page.groups)} diagnosis groups with the most cases that week. {SUPPRESSED} marks a '
             "suppressed cell.</p>"]
    if "incidence" in page.charts:
        parts.append(_figure(page.charts["incidence"], f"Incidence per 100,000 by region, {page.week}."))
    parts.append(_table("cases-region", f"Cases and incidence per 100,000 by region, {page.week}",
                        [("country", False), ("region", False), *headers],
                        _cases_rows(page.regions, page.groups, district=False)))
    parts.append(_table("cases-district", f"Cases and incidence per 100,000 by district, {page.week}",
                        [("country", False), ("region", False), ("district", False), *headers],
                        _cases_rows(page.districts, page.groups, district=True)))
    return "".join(parts)


def _top_section(page: Page) -> str:
    if page.week is None or not page.top:
        return _empty("no region's published top diagnoses for the report week (codes need 5 cases or more).")
    rows = [f"<tr><td>{escape(cc)}</td><td class=n>{rank}</td><td>{escape(code)}</td><td>{escape(name)}</td>"
            f"<td>{escape(group)}</td>{_td(cases)}<td class=n>{regions}</td></tr>"
            for cc, entries in page.top.items() for rank, (code, name, group, cases, regions) in enumerate(entries, 1)]
    parts = ["<p>Each code's cases are the sum of the published counts of the regions whose top-ten list names "
             "it that week (a region lists codes with 5 cases or more), so smaller counts are not included.</p>"]
    if "top" in page.charts:
        parts.append(_figure(page.charts["top"], f"Top diagnoses per country, {page.week}."))
    parts.append(_table("top-diagnoses", f"Top diagnoses per country, {page.week}",
                        [("country", False), ("rank", True), ("ICD-10", False), ("diagnosis", False),
                         ("group", False), ("cases", True), ("regions", True)], rows))
    return "".join(parts)


def _curve_table(curve: Curve) -> str:
    rows = [f"<tr><td>{escape(p.epi_week)}</td>{_td(p.cases)}"
            f"<td class=n>{'—' if p.threshold is None else _n(p.threshold, 1)}</td>"
            f"<td>{escape(', '.join(p.alerts))}</td></tr>" for p in curve.points]
    return _table(f"curve-{curve.slug}", f"{curve.diagnosis_group} in {curve.district}: weekly values",
                  [("ISO week", False), ("cases", True), ("EARS C2 threshold", True), ("alerts", False)], rows)


def _curves_section(page: Page) -> str:
    if not page.curves:
        return _empty("no district counts of the diseases under surveillance.")
    parts = ["<p>Weekly cases of the diseases under surveillance in the districts with alerts, the largest "
             "outbreak first (or, without alerts, the district with the most cases). The orange line is the EARS C2 threshold the detector "
             "computes from the 7 weeks ending 3 weeks earlier, drawn where every one of those weeks is "
             "published; for meningitis, the dashed lines are the WHO alert and epidemic thresholds (5 and 10 "
             "cases per 100,000 a week) for the district's population. Markers above a bar: an alert was raised "
             "for that week.</p>"]
    for curve, chart in page.curves:
        where = f"{curve.district}, {curve.region}, {curve.country_code}" if curve.region else curve.district
        parts.append(_figure(chart, f"{curve.diagnosis_group} in {where}."))
        parts.append(f"<details><summary>weekly values</summary>{_curve_table(curve)}</details>")
    return "".join(parts)


def _alerts_section(page: Page) -> str:
    if not page.alerts:
        return _empty("no alerts in the warehouse (the alerts sink writes them to RDS; the replication copies "
                      "them).")
    levels = Counter(a.alert.level for a in page.alerts)
    summary = ", ".join(f"{n} {level}" for level, n in sorted(levels.items()))
    rows = []
    for shown in page.alerts:
        a = shown.alert
        threshold = (f"{a.threshold:g} per 100k" if a.method != "ears_c2" else
                     "—" if shown.threshold is None else f"{shown.threshold:.1f} cases")
        rows.append(f"<tr><td>{escape(_time(a.raised_at))}</td><td>{escape(a.epi_week)}</td>"
                    f"<td>{escape(a.country_code)}</td><td>{escape(a.region or '')}</td><td>{escape(a.district)}</td>"
                    f"<td>{escape(a.diagnosis_group)}</td><td class='level-{escape(a.level)}'>{escape(a.level)}</td>"
                    f"<td>{escape(a.method)}</td>{_td(shown.cases)}{_td(shown.incidence_per_100k, 2)}"
                    f"<td class=n>{escape(threshold)}</td></tr>")
    return (f"<p>{len(page.alerts)} alerts ({escape(summary)}), newest raised first. Raised at: when the "
            "surveillance service raised it (its Kafka timestamp). Cases and incidence are the week's published "
            "counts; a threshold computed from a suppressed week is not shown.</p>"
            + _table("alerts", "Outbreak alerts", [
                ("raised at", False), ("ISO week", False), ("country", False), ("region", False),
                ("district", False), ("disease", False), ("level", False), ("method", False), ("cases", True),
                ("per 100k", True), ("threshold", True)], rows))


def _quality_section(page: Page) -> str:
    if not page.dead_letters:
        return _empty("no dead letters in the warehouse (the dead-letters sink writes them to RDS; the "
                      "replication copies them).")
    total = sum(c.count for c in page.dead_letters)
    rows = [f"<tr><td>{escape(c.reason)}</td><td>{escape(c.stage)}</td><td>{escape(c.source_name or '—')}</td>"
            f"<td>{escape(c.source_topic)}</td><td class=n>{c.count:,}</td><td>{escape(_time(c.first_at))}</td>"
            f"<td>{escape(_time(c.last_at))}</td></tr>" for c in page.dead_letters]
    parts = [f"<p>{total:,} records were dead-lettered: they failed decoding or validation and wait, with their "
             "reasons, on the dead-letter topic (<code>daas dlq list</code>, <code>daas dlq redrive</code>).</p>"]
    if "dead_letters" in page.charts:
        parts.append(_figure(page.charts["dead_letters"], "Dead letters by reason and source."))
    parts.append(_table("dead-letters", "Dead letters by reason and source", [
        ("reason", False), ("stage", False), ("source", False), ("source topic", False), ("count", True),
        ("first", False), ("last", False)], rows))
    return "".join(parts)


def render(page: Page) -> str:
    """The whole page."""
    o = page.overview
    period = f"{o.first_week} to {o.last_week}" if o.first_week else "—"
    cards = [("encounters", f"{o.encounters:,}"), ("countries", str(len(o.countries))), ("ISO weeks", period),
             ("report week", page.week or "—"), ("alerts", f"{len(page.alerts):,}"),
             ("dead letters", f"{sum(c.count for c in page.dead_letters):,}")]
    sections = [("alerts", "Outbreak alerts", _alerts_section(page)),
                ("epicurves", "Epidemic curves", _curves_section(page)),
                ("cases", "Cases and incidence by region and district", _cases_section(page)),
                ("top-diagnoses", "Top diagnoses per country", _top_section(page)),
                ("data-quality", "Data quality", _quality_section(page))]
    body = "".join(f'<section id="{sid}"><h2>{escape(title)}</h2>{content}</section>' for sid, title, content in sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>daas surveillance report {escape(page.week or '')}</title><style>{_STYLE}</style></head><body>"
        "<header><h1>Disease surveillance report</h1>"
        f'<p class="meta">Generated {escape(_time(page.generated_at))} from the warehouse '
        f"(countries {escape(', '.join(o.countries) or '—')}; last lake load {escape(_time(o.last_load_at))}; last "
        f"replication {escape(_time(o.last_sync_at))}).</p>"
        '<div class="cards">' + "".join(f'<div class="card"><b>{escape(v)}</b>{escape(k)}</div>' for k, v in cards)
        + "</div>"
        '<p class="note">Counts are those of the published views: a count of 1 to 4 is never shown, nor any '
        "count from which a hidden one could be worked out by subtraction (complementary suppression); "
        f"{SUPPRESSED} marks a suppressed cell. Incidence is per 100,000 population per week.</p></header>"
        f"{body}</body></html>")
