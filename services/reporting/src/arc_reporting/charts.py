"""Charts as SVG, drawn by pygal (pure Python, no browser or system library needed), in
colour-blind-safe colours, with titles and axis labels; every chart also has a data table or
text beside it on its page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pygal  # type: ignore[import-untyped]
from pygal.style import Style  # type: ignore[import-untyped]

from arc_contracts import ProficiencyScaleV1
from arc_reporting.domain.asof import AttemptAsOf
from arc_reporting.domain.palette import SERIES_COLOURS, STATUS_COLOURS
from arc_reporting.domain.records import STATUSES, Change

BASE = {
    "font_family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    "background": "#ffffff",
    "plot_background": "#ffffff",
    "foreground": "#222222",
    "foreground_strong": "#000000",
    "foreground_subtle": "#595959",
    "label_font_size": 12,
    "major_label_font_size": 12,
    "legend_font_size": 13,
    "title_font_size": 15,
}
#: Level line, counted attempts, attempts not counted (grey: "set aside").
TIMELINE_STYLE = Style(colors=(SERIES_COLOURS[0], SERIES_COLOURS[2], "#6f6f6f"), **BASE)
STATUS_STYLE = Style(colors=tuple(STATUS_COLOURS[s] for s in STATUSES), **BASE)
COMMON = {
    "js": [],  # no scripts from the internet: static SVG that works anywhere
    "show_y_guides": True,
    "legend_at_bottom": True,
    "truncate_legend": -1,
    "print_values": False,
    "disable_xml_declaration": True,
}


def outcome_timeline(
    title: str,
    scale: ProficiencyScaleV1,
    changes: Sequence[Change],
    attempts: Sequence[AttemptAsOf],
) -> str:
    """The level over time (a step at each change), each scored attempt as a point; attempts
    that do not count are grey and their tooltip says why."""
    chart = pygal.DateTimeLine(
        style=TIMELINE_STYLE,
        title=title,
        x_title="Date",
        y_title="Level",
        range=(float(scale.low), float(scale.high)),
        y_labels=[
            {"value": float(lv.value), "label": f"{lv.value} {lv.label}"} for lv in scale.levels
        ]
        or None,
        x_value_formatter=lambda d: d.strftime("%Y-%m-%d"),
        x_label_rotation=30,
        dots_size=4,
        height=320,
        **COMMON,
    )
    chart.add("Level", _steps(changes), stroke_style={"width": 3})
    counted, set_aside = [], []
    for shown in attempts:
        attempt = shown.attempt
        if attempt.score is None:
            continue
        point = {
            "value": (attempt.assessed_at, float(attempt.score)),
            "label": f"{attempt.assessment_ref or attempt.assessment_kind}: {attempt.score}",
        }
        if shown.counted:
            counted.append(point)
        else:
            point["label"] = f"{point['label']} (not counted: {shown.not_counted})"
            set_aside.append(point)
    chart.add("Attempts that count", counted, stroke=False, dots_size=6)
    chart.add("Not counted (voided, corrected, practice…)", set_aside, stroke=False, dots_size=6)
    return str(chart.render(is_unicode=True))


def _steps(changes: Sequence[Change]) -> list[dict[str, object]]:
    """The level as a step line: it holds until the next change."""
    points: list[dict[str, object]] = []
    previous: float | None = None
    for change in sorted(changes, key=lambda c: (c.when, c.sequence)):
        if change.value is None:
            continue
        if previous is not None:
            points.append({"value": (change.when, previous), "label": f"level {previous:g}"})
        previous = float(change.value)
        points.append({"value": (change.when, previous), "label": f"level {change.value}"})
    return points


def status_bars(title: str, rows: Sequence[tuple[str, dict[str, int]]]) -> str:
    """One horizontal bar per row, split by status (shares of the row's pairs)."""
    chart = pygal.HorizontalStackedBar(
        style=STATUS_STYLE,
        title=title,
        x_title="Share of students × outcomes (%)",
        range=(0, 100),
        height=max(220, 60 + 34 * len(rows)),
        value_formatter=lambda v: f"{v:.0f}%",
        **COMMON,
    )
    chart.x_labels = [label for label, _ in rows]
    for status in STATUSES:
        shares = []
        for _, counts in rows:
            total = sum(counts.values())
            shares.append(round(100 * counts.get(status, 0) / total, 1) if total else 0)
        chart.add(status.replace("_", " ").capitalize(), shares)
    return str(chart.render(is_unicode=True))


def status_over_time(title: str, points: Sequence[tuple[datetime, dict[str, int]]]) -> str:
    """Shares of each status at each moment (stacked to 100%)."""
    chart = pygal.StackedBar(
        style=STATUS_STYLE,
        title=title,
        y_title="Share (%)",
        range=(0, 100),
        x_label_rotation=30,
        height=340,
        value_formatter=lambda v: f"{v:.0f}%",
        **COMMON,
    )
    chart.x_labels = [at.strftime("%Y-%m-%d") for at, _ in points]
    for status in STATUSES:
        shares = []
        for _, counts in points:
            total = sum(counts.values())
            shares.append(round(100 * counts.get(status, 0) / total, 1) if total else 0)
        chart.add(status.replace("_", " ").capitalize(), shares)
    return str(chart.render(is_unicode=True))
