"""Report cards: per course, the grade converted by the policy from the outcomes it counts,
with the outcome breakdown; for one student, a section or a school."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from arc_contracts import SectionDefinedV1
from arc_reporting.domain.catalog import Catalog
from arc_reporting.domain.grading import Grade, OutcomeGradeLine, course_grade, grade_lines
from arc_reporting.domain.vocabulary import Vocabulary
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.views.common import Config, NotFound, Scope, load_scope, vocabulary


@dataclass(frozen=True)
class CourseCard:
    course_id: str
    title: str
    section_id: str
    section_title: str
    teachers: list[str]
    policy_id: str | None
    grade: Grade
    lines: list[OutcomeGradeLine]


@dataclass(frozen=True)
class ReportCard:
    student_id: str
    name: str
    schools: list[str]
    as_of: datetime | None
    words: Vocabulary
    courses: list[CourseCard]


@dataclass(frozen=True)
class ReportCards:
    """Several students' cards (a section or a school)."""

    title: str
    as_of: datetime | None
    words: Vocabulary
    cards: list[ReportCard]


def _course_card(
    catalog: Catalog, scope: Scope, student_id: str, section: SectionDefinedV1
) -> CourseCard:
    course = catalog.courses.get(section.course_id)
    outcomes = catalog.course_outcomes(section.course_id)
    policy = catalog.course_policy(section.course_id)
    standings = {o.outcome_id: scope.standing(student_id, o.outcome_id) for o, _ in outcomes}
    lines = grade_lines(outcomes, standings, policy)
    counted = {line.outcome_id for line in lines if line.counted}
    scales = [o.scale for o, _ in outcomes if o.outcome_id in counted] or [
        o.scale for o, _ in outcomes
    ]
    grade = (
        course_grade(
            lines,
            policy,
            {lv.value: lv.label for lv in scales[0].levels},
            scales[0].mastery_threshold,
        )
        if scales
        else course_grade(lines, policy)
    )
    return CourseCard(
        section.course_id,
        course.title if course else section.course_id,
        section.section_id,
        section.title,
        [catalog.name_of(t) for t in section.teacher_ids],
        policy.policy_id if policy else None,
        grade,
        lines,
    )


def _cards(
    model: ReportingReadModel,
    config: Config,
    catalog: Catalog,
    students: list[str],
    sections_of: Callable[[str], list[SectionDefinedV1]],
    as_of: datetime | None,
) -> list[ReportCard]:
    outcomes = {
        o.outcome_id
        for s in students
        for sec in sections_of(s)
        for o, _ in catalog.course_outcomes(sec.course_id)
    }
    scope = load_scope(model, catalog, students, as_of, outcomes, with_changes=False)
    words = vocabulary(catalog, config)
    cards = []
    for student in sorted(students, key=catalog.sort_name):
        sections = sections_of(student)
        cards.append(
            ReportCard(
                student,
                catalog.name_of(student),
                sorted({catalog.school_name(catalog.school_of_section(s)) for s in sections}),
                as_of,
                words,
                [_course_card(catalog, scope, student, s) for s in sections],
            )
        )
    return cards


def report_card(
    model: ReportingReadModel, config: Config, student_id: str, as_of: datetime | None
) -> ReportCard:
    catalog = model.catalog(as_of)
    if student_id not in catalog.people:
        raise NotFound("student_id", f"no student {student_id!r}")
    return _cards(model, config, catalog, [student_id], catalog.sections_of_student, as_of)[0]


def section_cards(
    model: ReportingReadModel, config: Config, section_id: str, as_of: datetime | None
) -> ReportCards:
    catalog = model.catalog(as_of)
    section = catalog.sections.get(section_id)
    if section is None:
        raise NotFound("section_id", f"no section {section_id!r}")
    cards = _cards(model, config, catalog, list(section.student_ids), lambda _: [section], as_of)
    return ReportCards(section.title, as_of, vocabulary(catalog, config), cards)


def school_cards(
    model: ReportingReadModel, config: Config, school_id: str, as_of: datetime | None
) -> ReportCards:
    catalog = model.catalog(as_of)
    if school_id not in catalog.schools():
        raise NotFound("school_id", f"no school {school_id!r}")
    sections = catalog.sections_in(school_id)
    students = sorted({s for sec in sections for s in sec.student_ids})

    def in_school(student: str) -> list[SectionDefinedV1]:
        return [s for s in sections if student in s.student_ids]

    cards = _cards(model, config, catalog, students, in_school, as_of)
    return ReportCards(catalog.school_name(school_id), as_of, vocabulary(catalog, config), cards)
