"""Courses, terms, schools, sections and people, with their relationships: a guardian is
guardian of students, a teacher teaches sections, a student is enrolled in sections. Pure Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from arc_catalog.domain.errors import Violation, duplicates, id_problems, text_problems

Source = Literal["api", "oneroster"]
Role = Literal["student", "teacher", "guardian", "administrator"]
ROLES: tuple[Role, ...] = ("student", "teacher", "guardian", "administrator")
TermKind = Literal["schoolYear", "semester", "term", "gradingPeriod"]
TERM_KINDS: tuple[TermKind, ...] = ("schoolYear", "semester", "term", "gradingPeriod")
ORG_KINDS = ("department", "school", "district", "local", "state", "national")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class CourseOutcome:
    outcome_id: str
    power: bool = False  # a power (priority) outcome


@dataclass(frozen=True)
class Course:
    title: str
    code: str | None = None
    school_id: str | None = None
    scale_id: str | None = None
    subject_area: str | None = None
    grade_levels: tuple[str, ...] = ()
    outcomes: tuple[CourseOutcome, ...] = ()
    source: Source = "api"


def course_problems(course_id: str, course: Course) -> list[Violation]:
    problems = id_problems("course_id", course_id) + text_problems("title", course.title, limit=500)
    for repeated in duplicates(o.outcome_id for o in course.outcomes):
        problems.append(Violation("outcomes", f"{repeated!r} is listed twice"))
    return problems


@dataclass(frozen=True)
class Term:
    title: str
    kind: TermKind = "term"
    start_date: str | None = None
    end_date: str | None = None
    parent_id: str | None = None
    school_year: str | None = None
    source: Source = "api"


def term_problems(term_id: str, term: Term) -> list[Violation]:
    problems = id_problems("term_id", term_id) + text_problems("title", term.title, limit=500)
    if term.kind not in TERM_KINDS:
        problems.append(Violation("kind", f"{term.kind!r} is not one of {', '.join(TERM_KINDS)}"))
    for name in ("start_date", "end_date"):
        value = getattr(term, name)
        if value is not None and not _DATE.match(value):
            problems.append(Violation(name, f"{value!r} is not a date like 2026-09-01"))
    if (
        term.start_date
        and term.end_date
        and _DATE.match(term.start_date)
        and _DATE.match(term.end_date)
        and term.end_date < term.start_date
    ):
        problems.append(Violation("end_date", f"{term.end_date} is before {term.start_date}"))
    if term.parent_id == term_id:
        problems.append(Violation("parent_id", "a term is not its own parent"))
    return problems


@dataclass(frozen=True)
class Org:
    """A school, district or other organisation."""

    name: str
    kind: str = "school"
    parent_id: str | None = None
    identifier: str | None = None
    source: Source = "api"


def org_problems(org_id: str, org: Org) -> list[Violation]:
    problems = id_problems("org_id", org_id) + text_problems("name", org.name, limit=500)
    if org.kind not in ORG_KINDS and not org.kind.startswith("ext:"):
        problems.append(Violation("kind", f"{org.kind!r} is not one of {', '.join(ORG_KINDS)}"))
    if org.parent_id == org_id:
        problems.append(Violation("parent_id", "an organisation is not its own parent"))
    return problems


@dataclass(frozen=True)
class Section:
    """A class: one course, taught in one or more terms, with its whole roster."""

    course_id: str
    title: str
    code: str | None = None
    school_id: str | None = None
    term_ids: tuple[str, ...] = ()
    teacher_ids: tuple[str, ...] = ()
    student_ids: tuple[str, ...] = ()
    periods: tuple[str, ...] = ()
    source: Source = "api"


def section_problems(section_id: str, section: Section) -> list[Violation]:
    problems = id_problems("section_id", section_id)
    problems += id_problems("course_id", section.course_id)
    problems += text_problems("title", section.title, limit=500)
    for name in ("teacher_ids", "student_ids", "term_ids"):
        for repeated in duplicates(getattr(section, name)):
            problems.append(Violation(name, f"{repeated!r} is listed twice"))
    return problems


@dataclass(frozen=True)
class Person:
    role: Role
    given_name: str
    family_name: str
    email: str | None = None
    username: str | None = None
    school_ids: tuple[str, ...] = ()
    guardian_of: tuple[str, ...] = ()
    grade_levels: tuple[str, ...] = ()
    active: bool = True
    source: Source = "api"


#: A person's fields that are personal data: stored sealed with the person's own key
#: (crypto-shredding, ``arc_platform.erasure``). Ids, roles and links stay plain.
PERSONAL_FIELDS = ("given_name", "family_name", "email", "username")


def person_problems(person_id: str, person: Person) -> list[Violation]:
    problems = id_problems("person_id", person_id)
    if person.role not in ROLES:
        problems.append(Violation("role", f"{person.role!r} is not one of {', '.join(ROLES)}"))
    problems += text_problems("given_name", person.given_name, limit=200)
    problems += text_problems("family_name", person.family_name, limit=200)
    if person.email is not None and "@" not in person.email:
        problems.append(Violation("email", f"{person.email!r} is not an email address"))
    if person.guardian_of and person.role != "guardian":
        problems.append(Violation("guardian_of", "only a guardian is guardian of students"))
    if person_id in person.guardian_of:
        problems.append(Violation("guardian_of", "a person is not their own guardian"))
    return problems
