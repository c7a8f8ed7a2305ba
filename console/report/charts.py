"""The report's charts as PNG bytes, drawn headless (matplotlib's Agg canvas, no pyplot:
no global figure state, nothing that needs a display)."""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from console.report.epi import CasesRow, Curve
from console.report.queries import DeadLetterCount

__all__ = ["dead_letters_chart", "epicurve_chart", "incidence_by_region_chart", "top_diagnoses_chart"]

_PALETTE = ("#1f5f8b", "#e07b39", "#4c9a2a", "#8e44ad", "#c0392b", "#16a085")
_LEVELS = {"aberration": ("#e67e22", "^", "EARS C2 aberration"), "alert": ("#c0392b", "v", "WHO alert"),
           "epidemic": ("#7b241c", "D", "WHO epidemic")}
_DPI = 100


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    return buffer.getvalue()


def incidence_by_region_chart(rows: Sequence[CasesRow], groups: Sequence[str], week: str) -> bytes:
    """One panel per main group (at most three, side by side): incidence per 100,000 by
    region in ``week``; a suppressed value is marked, not drawn."""
    groups = list(groups)[:3]
    labels = [f"{r.country_code} · {r.region}" for r in rows]
    fig = Figure(figsize=(3.6 * len(groups) + 1.6, 0.2 * len(rows) + 1.4))
    axes = fig.subplots(1, len(groups), sharey=True, squeeze=False)[0]
    for g, (ax, group) in enumerate(zip(axes, groups, strict=True)):
        values = [r.values[group][1] for r in rows]
        ax.barh(range(len(rows)), [float(v) if v is not None else 0.0 for v in values],
                color=_PALETTE[g % len(_PALETTE)], height=0.7)
        hidden = [i for i, v in enumerate(values) if v is None]
        if hidden:
            ax.plot([0] * len(hidden), hidden, linestyle="none", marker="x", color="#7f8c8d", markersize=5,
                    label="suppressed")
            ax.legend(fontsize=7, loc="lower right")
        ax.set_title(group, fontsize=10)
        ax.set_xlabel("per 100,000", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(rows)), labels, fontsize=7)
    axes[0].invert_yaxis()
    fig.suptitle(f"Incidence by region, {week}", fontsize=11)
    fig.tight_layout()
    return _png(fig)


def top_diagnoses_chart(per_country: dict[str, list[tuple[str, str, str, int, int]]], week: str) -> bytes:
    """One panel per country: its top ICD-10 codes by published cases in ``week``."""
    countries = list(per_country)
    cols = min(3, len(countries))
    rows = math.ceil(len(countries) / cols)
    fig = Figure(figsize=(4.2 * cols, 2.6 * rows))
    for i, cc in enumerate(countries):
        ax = fig.add_subplot(rows, cols, i + 1)
        entries = per_country[cc]
        ax.barh(range(len(entries)), [e[3] for e in entries], color=_PALETTE[i % len(_PALETTE)])
        ax.set_yticks(range(len(entries)), [f"{e[0]} {e[1][:26]}" for e in entries], fontsize=7)
        ax.invert_yaxis()
        ax.set_title(cc, fontsize=10)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"Top diagnoses per country, {week} (published regional counts)", fontsize=11)
    fig.tight_layout()
    return _png(fig)


def epicurve_chart(curve: Curve) -> bytes:
    """Weekly cases (bars; suppressed weeks marked), the EARS C2 threshold the detector
    would compute, the WHO thresholds for meningitis, and the weeks with alerts."""
    weeks = [p.epi_week for p in curve.points]
    xs = range(len(weeks))
    fig = Figure(figsize=(9, 3.4))
    ax = fig.add_subplot()
    ax.bar(xs, [p.cases or 0 for p in curve.points], color="#1f5f8b", width=0.8, label="cases")
    hidden = [x for x, p in zip(xs, curve.points, strict=True) if p.cases is None]
    if hidden:  # a span over the week, not a bar: its count is not shown
        for x in hidden:
            ax.axvspan(x - 0.4, x + 0.4, color="#d5dbdb", alpha=0.6, hatch="//", linewidth=0)
        ax.plot([], [], linestyle="none", marker="s", color="#d5dbdb", label="suppressed week")
    thresholds = [p.threshold if p.threshold is not None else math.nan for p in curve.points]
    if any(not math.isnan(t) for t in thresholds):
        ax.step(xs, thresholds, where="mid", color="#e67e22", linewidth=1.8, label="EARS C2 threshold")
    who = curve.who_cases()
    if who is not None:
        ax.axhline(who[0], color="#c0392b", linestyle="--", linewidth=1.2, label="WHO alert (5 per 100,000)")
        ax.axhline(who[1], color="#7b241c", linestyle=":", linewidth=1.4, label="WHO epidemic (10 per 100,000)")
    # At least the suppression threshold, so a series of suppressed weeks reads as small counts.
    top = max([p.cases or 0 for p in curve.points] + [t for t in thresholds if not math.isnan(t)] + [5])
    marked: set[str] = set()
    for x, point in zip(xs, curve.points, strict=True):
        for n, level in enumerate(point.alerts):
            color, marker, label = _LEVELS.get(level, ("#c0392b", "*", level))
            ax.plot([x], [top * (1.08 + 0.07 * n)], linestyle="none", marker=marker, color=color, markersize=8,
                    label=None if level in marked else label)
            marked.add(level)
    step = max(1, math.ceil(len(weeks) / 16))
    ax.set_xticks(list(xs)[::step], [w.replace("W", "-W") for w in weeks][::step], rotation=45, ha="right",
                  fontsize=7)
    ax.set_ylim(0, top * 1.3)
    ax.set_ylabel("cases per week")
    place = f"{curve.district}, {curve.region}, {curve.country_code}" if curve.region else curve.district
    ax.set_title(f"{curve.diagnosis_group}: {place}", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", ncols=3)
    return _png(fig)


def dead_letters_chart(counts: Sequence[DeadLetterCount]) -> bytes:
    """Dead letters by reason, stacked by source."""
    by_reason: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for c in counts:
        by_reason[c.reason][c.source_name or "other"] += c.count
    reasons = sorted(by_reason, key=lambda r: -sum(by_reason[r].values()))
    sources = sorted({s for r in by_reason.values() for s in r})
    fig = Figure(figsize=(8, max(2.5, 0.35 * len(reasons) + 1.2)))
    ax = fig.add_subplot()
    left = [0] * len(reasons)
    for i, source in enumerate(sources):
        values = [by_reason[r].get(source, 0) for r in reasons]
        ax.barh(range(len(reasons)), values, left=left, color=_PALETTE[i % len(_PALETTE)], label=source)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_yticks(range(len(reasons)), reasons, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("dead letters")
    ax.set_title("Dead letters by reason and source")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)
