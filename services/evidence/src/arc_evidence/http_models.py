"""What evidence's HTTP API reads (request bodies, checked by pydantic) and writes (JSON views
of attempts and statements)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from arc_evidence.domain import AttemptState
from arc_evidence.gradebook import CsvProblem
from arc_evidence.imports import ImportReport
from arc_evidence.rules import AttemptDraft, Problem, ScoreEntry
from arc_evidence.statements import StoredStatement
from arc_platform.http_errors import ErrorBody, Refused, error_content

#: ``recorded_by`` / ``voided_by``: the caller unless a network administrator names another
#: (:mod:`arc_evidence.authorship`).
RECORDER: str = Field(
    "", description="You (the default); only a network administrator names another"
)


def refused(status: int, problems: list[tuple[str, str]]) -> Refused:
    return Refused(status, problems)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OutcomeScoreIn(_In):
    outcome_id: str
    score: Decimal | None = None
    status: Literal["scored", "excused", "missing"] = "scored"
    retake_of: str | None = None
    attempt_number: int | None = None

    def entry(self) -> ScoreEntry:
        return ScoreEntry(
            self.outcome_id, self.score, self.status, self.retake_of, self.attempt_number
        )


class AttemptIn(_In):
    """One student's work on one assessment item; one score per outcome it evidences."""

    student_id: str
    scores: list[OutcomeScoreIn] = Field(min_length=1)
    assessed_at: datetime | None = None
    recorded_by: str = RECORDER
    assessment_ref: str | None = None
    assessment_kind: str = "test"
    weight: Decimal = Decimal(1)
    tags: list[str] = []
    comment: str | None = None
    artifact_url: str | None = None

    def draft(self) -> AttemptDraft:
        return AttemptDraft(
            student_id=self.student_id,
            entries=tuple(s.entry() for s in self.scores),
            assessed_at=self.assessed_at,
            recorded_by=self.recorded_by,
            assessment_ref=self.assessment_ref,
            assessment_kind=self.assessment_kind,
            weight=self.weight,
            tags=tuple(self.tags),
            comment=self.comment,
            artifact_url=self.artifact_url,
        )


class BatchRowIn(_In):
    student_id: str
    scores: list[OutcomeScoreIn] = Field(min_length=1)
    assessed_at: datetime | None = None
    comment: str | None = None
    artifact_url: str | None = None
    tags: list[str] = []


class BatchIn(_In):
    """A whole class's scores on one assessment: every row recorded, or none."""

    recorded_by: str = RECORDER
    assessed_at: datetime | None = None
    assessment_ref: str | None = None
    assessment_kind: str = "test"
    weight: Decimal = Decimal(1)
    tags: list[str] = []
    section_id: str | None = None
    rows: list[BatchRowIn] = Field(min_length=1)

    def drafts(self) -> list[AttemptDraft]:
        return [
            AttemptDraft(
                student_id=row.student_id,
                entries=tuple(s.entry() for s in row.scores),
                assessed_at=row.assessed_at or self.assessed_at,
                recorded_by=self.recorded_by,
                assessment_ref=self.assessment_ref,
                assessment_kind=self.assessment_kind,
                weight=self.weight,
                tags=(*self.tags, *row.tags),
                comment=row.comment,
                artifact_url=row.artifact_url,
                source="batch",
            )
            for row in self.rows
        ]

    def name(self, problem: Problem) -> str:
        if problem.row is None or problem.field in (
            "recorded_by",
            "assessment_ref",
            "assessment_kind",
            "weight",
        ):
            return problem.field
        row = self.rows[problem.row]
        if problem.field == "assessed_at" and row.assessed_at is None:
            return "assessed_at"
        if problem.field.startswith("tags["):
            index = int(problem.field[5:-1])
            if index < len(self.tags):
                return problem.field
            return f"rows[{problem.row}].tags[{index - len(self.tags)}]"
        return f"rows[{problem.row}].{item_name(problem)}"


class VoidIn(_In):
    reason: str
    voided_by: str = RECORDER


class SupersedeIn(_In):
    reason: str
    recorded_by: str = RECORDER
    status: Literal["scored", "excused", "missing"] = "scored"
    score: Decimal | None = None
    assessed_at: datetime | None = None
    comment: str | None = None


class LineProblem(BaseModel):
    line: int | None = Field(description="The CSV line (1 is the header), if one is at fault")
    column: str | None = Field(description="The column's heading, if one is at fault")
    description: str


class GradebookReport(BaseModel):
    """What an upload recorded (201), or would record (a dry run: 200)."""

    dry_run: bool
    recorded: bool
    layout: str = Field(description="wide or long")
    source_ref: str = Field(description="The file's content-derived id, kept with each attempt")
    lines: int
    students: int
    attempts: int
    excused: int
    missing: int
    outcomes: list[str]
    errors: list[LineProblem]
    attempt_ids: list[str]
    position: int
    replayed: bool


class GradebookRefused(GradebookReport, ErrorBody):
    """Lines at fault (400): the report, and each problem as a violation of its line."""


def gradebook_json(report: ImportReport) -> dict[str, Any]:
    """The report; with lines at fault also ``detail`` and ``violations`` (every refusal's
    shape), a violation's field naming the line and column (``line 4, column sci.1``)."""
    content = {k: v for k, v in vars(report).items() if k != "errors"}
    content["errors"] = [vars(e) for e in report.errors]
    if report.errors:
        content.update(error_content([(_place(e), e.description) for e in report.errors]))
    return content


def _place(problem: CsvProblem) -> str:
    parts = [
        f"line {problem.line}" if problem.line else "",
        problem.column and f"column {problem.column}",
    ]
    return ", ".join(part for part in parts if part) or "body"


def item_name(problem: Problem) -> str:
    if problem.entry is not None:
        return f"scores[{problem.entry}].{problem.field}"
    return problem.field


def attempt_json(state: AttemptState) -> dict[str, Any]:
    a = state.attempt
    return {
        "attempt_id": a.attempt_id,
        "student_id": a.student_id,
        "outcome_id": a.outcome_id,
        "outcome_revision": a.outcome_revision,
        "scale": a.scale.model_dump(mode="json"),
        "status": a.status,
        "score": None if a.score is None else str(a.score),
        "assessed_at": a.assessed_at.isoformat(),
        "recorded_at": a.recorded_at.isoformat(),
        "recorded_by": a.recorded_by,
        "assessment_ref": a.assessment_ref,
        "assessment_kind": a.assessment_kind,
        "weight": str(a.weight),
        "tags": list(a.tags),
        "attempt_number": a.attempt_number,
        "retake_of": a.retake_of,
        "supersedes": a.supersedes,
        "superseded_by": state.superseded_by,
        "correction_reason": a.correction_reason,
        "comment": a.comment,
        "artifact_url": a.artifact_url,
        "source": a.source,
        "source_ref": a.source_ref,
        "counts": state.counts,
        "void": None
        if state.void is None
        else {
            "reason": state.void.reason,
            "voided_by": state.void.voided_by,
            "voided_at": state.void.voided_at.isoformat(),
        },
    }


def statement_json(found: StoredStatement) -> dict[str, Any]:
    return {
        "statement_id": found.statement_id,
        "status": found.status,
        "student_id": found.student_id,
        "attempt_ids": found.attempt_ids,
        "problems": [{"field": f, "description": d} for f, d in found.problems],
        "stored": found.stored_at.isoformat(),
        "position": found.position,
        "statement": found.statement,
    }
