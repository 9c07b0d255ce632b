"""Report cards exported as CSV (one row per student, course and outcome) and as PDF (one
student per page), drawn with reportlab (installs from PyPI alone)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import getSampleStyleSheet  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from arc_reporting.domain.palette import STATUS_COLOURS
from arc_reporting.domain.vocabulary import PLAIN_STATUS
from arc_reporting.views.report_card import CourseCard, ReportCard

CSV_COLUMNS = (
    "student_id",
    "student_name",
    "course_id",
    "course_title",
    "section_id",
    "course_value",
    "grade",
    "percent",
    "outcome_id",
    "outcome_code",
    "outcome_statement",
    "power",
    "counted_in_grade",
    "status",
    "value",
    "level_label",
    "as_of",
)


def _text(value: Decimal | str | None) -> str:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return "" if value is None else str(value)


def cards_csv(cards: Sequence[ReportCard], as_of: datetime | None) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    stamp = as_of.isoformat() if as_of else ""
    for card in cards:
        for course in card.courses:
            for line in course.lines:
                writer.writerow(
                    (
                        card.student_id,
                        card.name,
                        course.course_id,
                        course.title,
                        course.section_id,
                        _text(course.grade.value),
                        _text(course.grade.grade),
                        _text(course.grade.percent),
                        line.outcome_id,
                        line.code,
                        line.statement,
                        "yes" if line.power else "no",
                        "yes" if line.counted else "no",
                        line.standing.status,
                        _text(line.standing.value),
                        _text(line.standing.label),
                        stamp,
                    )
                )
    return out.getvalue()


def cards_pdf(title: str, cards: Sequence[ReportCard], as_of: datetime | None) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=title,
        author="Mastery Arc",
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
    )
    styles = getSampleStyleSheet()
    story: list[object] = []
    when = f"as of {as_of:%Y-%m-%d %H:%M} UTC" if as_of else f"on {datetime.now():%Y-%m-%d}"
    for index, card in enumerate(cards):
        if index:
            story.append(PageBreak())
        story.append(Paragraph(f"Report card: {_escape(card.name)}", styles["Title"]))
        story.append(
            Paragraph(f"{_escape(', '.join(card.schools))} &middot; {when}", styles["Normal"])
        )
        if not card.courses:
            story.append(Paragraph("Not enrolled in any course.", styles["Normal"]))
        for course in card.courses:
            story.extend(_course(course, card, styles))
    if not cards:
        story.append(Paragraph(f"{_escape(title)}: no students", styles["Title"]))
    document.build(story)
    return buffer.getvalue()


def _course(course: CourseCard, card: ReportCard, sheet: Any) -> list[object]:
    grade = course.grade
    headline = (
        f"Grade {grade.grade}" + (f" ({grade.percent}%)" if grade.percent is not None else "")
        if grade.grade
        else "No grade yet"
    )
    parts: list[object] = [
        Spacer(1, 5 * mm),
        Paragraph(
            f"{_escape(course.title)} &middot; {_escape(course.section_title)}", sheet["Heading2"]
        ),
        Paragraph(f"<b>{_escape(headline)}</b>: {_escape(grade.explanation)}", sheet["Normal"]),
    ]
    cell = sheet["BodyText"]
    # Plain strings where a cell is short: Paragraphs (for wrapping) are the slow part.
    rows: list[list[object]] = [[card.words.outcome.capitalize(), "Level", "Where", "In grade"]]
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#999999")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("FONTSIZE", (1, 0), (-1, -1), 9),
    ]
    for row, line in enumerate(course.lines, start=1):
        level = line.standing.label or "-"
        if line.standing.value is not None:
            level = f"{level} ({line.standing.value})"
        rows.append(
            [
                Paragraph(f"<b>{_escape(line.code)}</b> {_escape(line.statement)}", cell),
                level,
                PLAIN_STATUS.get(line.standing.status, line.standing.status),
                "yes" if line.counted else "no",
            ]
        )
        style.append(
            (
                "LINEBEFORE",
                (0, row),
                (0, row),
                4,
                colors.HexColor(STATUS_COLOURS[line.standing.status]),
            )
        )
    table = Table(rows, colWidths=[95 * mm, 35 * mm, 35 * mm, 15 * mm], repeatRows=1)
    table.setStyle(TableStyle(style))
    parts.append(Spacer(1, 2 * mm))
    parts.append(table)
    return parts


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
