"""Whole-class evidence entry: from the form (or the JSON body) to one batch for the evidence
service, and the evidence service's field names back to the form's inputs."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, time
from decimal import Decimal, InvalidOperation

from arc_reporting.clients import KIND_CODES, STATUS_CODES, ClassEntry, EntryRow, ScoreCell


class FormErrors(ValueError):
    """Every problem found in a submitted form, by input name."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def score_input(student_id: str, outcome_id: str) -> str:
    return f"score.{student_id}.{outcome_id}"


def status_input(student_id: str, outcome_id: str) -> str:
    return f"status.{student_id}.{outcome_id}"


def parse_entry_form(
    section_id: str, form: Mapping[str, str], students: list[str], outcomes: list[str]
) -> ClassEntry:
    errors: dict[str, str] = {}
    recorded_by = form.get("recorded_by", "").strip()
    if not recorded_by:
        errors["recorded_by"] = "who is recording this (your teacher id)"
    ref = form.get("assessment_ref", "").strip()
    if not ref:
        errors["assessment_ref"] = "name the assessment, e.g. Unit 3 quiz"
    kind = form.get("assessment_kind", "test")
    if kind not in KIND_CODES:
        errors["assessment_kind"] = f"{kind!r} is not a kind of assessment"
    assessed_at = datetime.now(UTC)
    try:
        day = datetime.fromisoformat(form.get("assessed_on", "")).date()
        # Noon of that day (UTC), or now when noon has not come yet.
        assessed_at = min(datetime.combine(day, time(12), UTC), datetime.now(UTC))
    except ValueError:
        errors["assessed_on"] = "give the date of the assessment (YYYY-MM-DD)"
    rows = []
    for student in students:
        cells = []
        for outcome in outcomes:
            cell = _cell(form, student, outcome, errors)
            if cell is not None:
                cells.append(cell)
        if cells:
            comment = form.get(f"comment.{student}", "").strip() or None
            rows.append(EntryRow(student, tuple(cells), comment))
    if not rows and not errors:
        errors["rows"] = "enter at least one score (or mark a student excused or missing)"
    if errors:
        raise FormErrors(errors)
    return ClassEntry(
        section_id,
        recorded_by,
        assessed_at,
        ref,
        kind,
        tuple(rows),
        form.get("idempotency_key") or str(uuid.uuid4()),
    )


def _cell(
    form: Mapping[str, str], student: str, outcome: str, errors: dict[str, str]
) -> ScoreCell | None:
    status = form.get(status_input(student, outcome), "scored") or "scored"
    text = form.get(score_input(student, outcome), "").strip()
    if status not in STATUS_CODES:
        errors[status_input(student, outcome)] = f"{status!r}: scored, excused or missing"
        return None
    if status != "scored":
        return ScoreCell(outcome, None, status)
    if not text:
        return None
    try:
        score = Decimal(text)
    except InvalidOperation:
        errors[score_input(student, outcome)] = f"{text!r} is not a number"
        return None
    if not score.is_finite():
        errors[score_input(student, outcome)] = f"{text!r} is not a number"
        return None
    return ScoreCell(outcome, score, "scored")


def form_field_of(entry: ClassEntry, field: str) -> str:
    """``rows[2].scores[0].score`` (the evidence service's name) → the form's input name."""
    if not field.startswith("rows["):
        return {"assessed_at": "assessed_on"}.get(field, field)
    try:
        row_index = int(field[5 : field.index("]")])
        row = entry.rows[row_index]
        rest = field[field.index("]") + 2 :]
        if rest.startswith("scores["):
            cell = row.scores[int(rest[7 : rest.index("]")])]
            what = rest[rest.index("]") + 2 :]
            if what == "status":
                return status_input(row.student_id, cell.outcome_id)
            return score_input(row.student_id, cell.outcome_id)
        return f"{rest}.{row.student_id}" if rest else f"student.{row.student_id}"
    except (ValueError, IndexError):
        return field
