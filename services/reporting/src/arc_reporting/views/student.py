"""The student's view (every outcome of each course, the level now and over time, why, and
what is next), one outcome in detail, and the family's view of their students."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from arc_contracts import ProficiencyScaleV1
from arc_reporting.domain.asof import AttemptAsOf
from arc_reporting.domain.records import Change
from arc_reporting.domain.vocabulary import PLAIN_STATUS, Vocabulary
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.views.common import (
    Config,
    NotFound,
    OutcomeLine,
    Scope,
    load_scope,
    next_steps,
    outcome_line,
    vocabulary,
)


@dataclass
class CourseBlock:
    course_id: str
    title: str
    section_id: str
    section_title: str
    school: str
    outcomes: list[OutcomeLine]

    @property
    def mastered(self) -> int:
        return sum(1 for line in self.outcomes if line.status == "mastered")


@dataclass
class StudentPage:
    student_id: str
    name: str
    as_of: datetime | None
    words: Vocabulary
    courses: list[CourseBlock]
    other_outcomes: list[OutcomeLine]
    next_steps: list[OutcomeLine]

    def outcome_ids(self) -> list[str]:
        lines = [line for c in self.courses for line in c.outcomes] + self.other_outcomes
        return sorted({line.outcome_id for line in lines if line.status != "no_evidence"})

    def with_explanations(self, found: dict[str, str]) -> StudentPage:
        def explained(line: OutcomeLine) -> OutcomeLine:
            return replace(line, explanation=found.get(line.outcome_id))

        for course in self.courses:
            course.outcomes = [explained(line) for line in course.outcomes]
        self.other_outcomes = [explained(line) for line in self.other_outcomes]
        self.next_steps = [explained(line) for line in self.next_steps]
        return self


def student_page(
    model: ReportingReadModel, config: Config, student_id: str, as_of: datetime | None
) -> StudentPage:
    catalog = model.catalog(as_of)
    scope = load_scope(model, catalog, [student_id], as_of, with_attempts=True)
    if student_id not in catalog.people and not scope.standings and not scope.attempts:
        raise NotFound("student_id", f"no student {student_id!r}")
    courses = []
    in_courses: set[str] = set()
    for section in catalog.sections_of_student(student_id):
        course = catalog.courses.get(section.course_id)
        outcomes = catalog.course_outcomes(section.course_id)
        in_courses |= {o.outcome_id for o, _ in outcomes}
        courses.append(
            CourseBlock(
                section.course_id,
                course.title if course else section.course_id,
                section.section_id,
                section.title,
                catalog.school_name(catalog.school_of_section(section)),
                [outcome_line(o, power, scope, student_id) for o, power in outcomes],
            )
        )
    evidenced = {o for s, o in scope.standings} | {o for s, o in scope.attempts}
    others = [
        outcome_line(catalog.outcomes[o], False, scope, student_id)
        for o in sorted(evidenced - in_courses)
        if o in catalog.outcomes
    ]
    every = [line for c in courses for line in c.outcomes] + others
    return StudentPage(
        student_id,
        catalog.name_of(student_id),
        as_of,
        vocabulary(catalog, config),
        courses,
        others,
        next_steps(every),
    )


# --- one outcome in detail -----------------------------------------------------------------


@dataclass(frozen=True)
class AttemptLine:
    attempt_id: str
    assessed_at: datetime
    recorded_at: datetime
    status: str
    score: Decimal | None
    counted: bool
    not_counted: str | None
    assessment_ref: str | None
    assessment_kind: str
    recorded_by: str
    comment: str | None


@dataclass(frozen=True)
class ChangeLine:
    changed_at: datetime
    assessed_at: datetime | None
    before_value: Decimal | None
    value: Decimal | None
    level_label: str | None
    status: str
    method: str
    cause: str
    attempt_id: str | None


@dataclass
class OutcomeDetail:
    student_id: str
    student_name: str
    outcome_id: str
    code: str
    statement: str
    scale: ProficiencyScaleV1
    as_of: datetime | None
    words: Vocabulary
    line: OutcomeLine
    attempts: list[AttemptLine]
    changes: list[ChangeLine]
    explanation: object | None = None  # clients.Explained, filled by the caller
    courses: list[str] = field(default_factory=list)
    history: list[Change] = field(default_factory=list)
    shown: list[AttemptAsOf] = field(default_factory=list)


def outcome_detail(
    model: ReportingReadModel,
    config: Config,
    student_id: str,
    outcome_id: str,
    as_of: datetime | None,
) -> OutcomeDetail:
    catalog = model.catalog(as_of)
    outcome = catalog.outcomes.get(outcome_id)
    if outcome is None:
        raise NotFound("outcome_id", f"no outcome {outcome_id!r}")
    scope = load_scope(model, catalog, [student_id], as_of, [outcome_id], with_attempts=True)
    power = any(
        p
        for s in catalog.sections_of_student(student_id)
        for o, p in catalog.course_outcomes(s.course_id)
        if o.outcome_id == outcome_id
    )
    shown = scope.attempts_on(student_id, outcome_id)
    history = sorted(scope.changes.get((student_id, outcome_id), []), key=lambda c: c.sequence)
    return OutcomeDetail(
        student_id,
        catalog.name_of(student_id),
        outcome_id,
        outcome.code,
        outcome.statement,
        outcome.scale,
        as_of,
        vocabulary(catalog, config),
        outcome_line(outcome, power, scope, student_id),
        [_attempt_line(a) for a in shown],
        [_change_line(c) for c in history],
        courses=catalog.courses_assessing(outcome_id),
        history=history,
        shown=shown,
    )


def _attempt_line(shown: AttemptAsOf) -> AttemptLine:
    a = shown.attempt
    return AttemptLine(
        a.attempt_id,
        a.assessed_at,
        a.recorded_at,
        a.status,
        a.score,
        shown.counted,
        shown.not_counted,
        a.assessment_ref,
        a.assessment_kind,
        a.recorded_by,
        a.comment,
    )


def _change_line(change: Change) -> ChangeLine:
    return ChangeLine(
        change.changed_at,
        change.assessed_at,
        change.before_value,
        change.value,
        change.label,
        change.status,
        change.method,
        change.cause_kind,
        change.cause_attempt_id,
    )


# --- family --------------------------------------------------------------------------------


@dataclass
class FamilyPage:
    guardian_id: str
    guardian_name: str
    as_of: datetime | None
    words: Vocabulary
    children: list[StudentPage]
    plain: dict[str, str] = field(default_factory=lambda: dict(PLAIN_STATUS))


def family_page(
    model: ReportingReadModel, config: Config, guardian_id: str, as_of: datetime | None
) -> FamilyPage:
    catalog = model.catalog(as_of)
    guardian = catalog.people.get(guardian_id)
    if guardian is None or guardian.role != "guardian":
        raise NotFound("guardian_id", f"no guardian {guardian_id!r}")
    children = [
        student_page(model, config, s, as_of) for s in guardian.guardian_of if s in catalog.people
    ]
    return FamilyPage(
        guardian_id, catalog.name_of(guardian_id), as_of, vocabulary(catalog, config), children
    )


def scope_of(model: ReportingReadModel, student_id: str, as_of: datetime | None) -> Scope:
    """The student's whole history as of a moment (for charts)."""
    return load_scope(model, model.catalog(as_of), [student_id], as_of, with_attempts=True)
