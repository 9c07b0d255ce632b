"""Courses (with the outcomes they assess), terms, schools, sections and people."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Literal

from arc_catalog.core import CatalogCore, Saved, Versioned, checked
from arc_catalog.domain.errors import InvalidDefinition, Violation
from arc_catalog.domain.records import (
    CourseRecord,
    OrgRecord,
    PersonRecord,
    SectionRecord,
    TermRecord,
    from_primitive,
)
from arc_catalog.domain.rosters import (
    Course,
    Org,
    Person,
    Section,
    Term,
    course_problems,
    org_problems,
    person_problems,
    section_problems,
    term_problems,
)


class RosterCases(CatalogCore):
    # --- courses, terms, schools -------------------------------------------------------------

    def define_course(self, course_id: str, course: Course, traceparent: str = "") -> Saved:
        """A course and the outcomes it assesses, power outcomes flagged."""
        course = replace(course, source="api")
        problems = course_problems(course_id, course)
        with self.writing():
            problems += self.check_known("org", {"school_id": course.school_id})
            problems += self.check_known("scale", {"scale_id": course.scale_id})
            problems += self.check_known(
                "outcome",
                {f"outcomes[{i}].outcome_id": o.outcome_id for i, o in enumerate(course.outcomes)},
            )
            checked(problems)
            return self.saved(self.put(CourseRecord, course_id, course, traceparent))

    def get_course(self, course_id: str, revision: int | None = None) -> Versioned[Course]:
        return self.versioned(self.require(CourseRecord, course_id, revision))

    def list_courses(
        self, school_id: str | None = None, outcome_id: str | None = None
    ) -> list[Versioned[Course]]:
        return self.listed(Course, "course", school=school_id, outcome=outcome_id)

    def define_term(self, term_id: str, term: Term, traceparent: str = "") -> Saved:
        term = replace(term, source="api")
        problems = term_problems(term_id, term)
        with self.writing():
            checked(problems + self.check_known("term", {"parent_id": term.parent_id}))
            return self.saved(self.put(TermRecord, term_id, term, traceparent))

    def get_term(self, term_id: str, revision: int | None = None) -> Versioned[Term]:
        return self.versioned(self.require(TermRecord, term_id, revision))

    def list_terms(self) -> list[Versioned[Term]]:
        return self.listed(Term, "term")

    def define_org(self, org_id: str, org: Org, traceparent: str = "") -> Saved:
        org = replace(org, source="api")
        problems = org_problems(org_id, org)
        with self.writing():
            checked(problems + self.check_known("org", {"parent_id": org.parent_id}))
            return self.saved(self.put(OrgRecord, org_id, org, traceparent))

    def get_org(self, org_id: str, revision: int | None = None) -> Versioned[Org]:
        return self.versioned(self.require(OrgRecord, org_id, revision))

    def list_orgs(self) -> list[Versioned[Org]]:
        return self.listed(Org, "org")

    # --- sections and enrolments -------------------------------------------------------------

    def define_section(self, section_id: str, section: Section, traceparent: str = "") -> Saved:
        """A section with its whole roster: teachers who teach it, students enrolled in it."""
        section = replace(section, source="api")
        problems = section_problems(section_id, section)
        with self.writing():
            problems += self._section_references(section)
            checked(problems)
            return self.saved(self.put(SectionRecord, section_id, section, traceparent))

    def enroll(
        self,
        section_id: str,
        person_id: str,
        role: Literal["student", "teacher"],
        traceparent: str = "",
    ) -> Saved:
        with self.writing():
            record = self.require(SectionRecord, section_id, field="section_id")
            section = record.state
            if role == "student":
                section = replace(section, student_ids=_added(section.student_ids, person_id))
            elif role == "teacher":
                section = replace(section, teacher_ids=_added(section.teacher_ids, person_id))
            else:
                raise InvalidDefinition("role", f"{role!r} is not student or teacher")
            field = "person_id"
            checked(self._people_problems({field: person_id}, role, field))
            self.put(SectionRecord, section_id, section, traceparent, record)
            return self.saved(record)

    def unenroll(self, section_id: str, person_id: str, traceparent: str = "") -> Saved:
        with self.writing():
            record = self.require(SectionRecord, section_id, field="section_id")
            section = record.state
            if person_id not in (*section.student_ids, *section.teacher_ids):
                raise InvalidDefinition("person_id", f"{person_id!r} is not in {section_id!r}")
            section = replace(
                section,
                student_ids=tuple(p for p in section.student_ids if p != person_id),
                teacher_ids=tuple(p for p in section.teacher_ids if p != person_id),
            )
            self.put(SectionRecord, section_id, section, traceparent, record)
            return self.saved(record)

    def get_section(self, section_id: str, revision: int | None = None) -> Versioned[Section]:
        return self.versioned(self.require(SectionRecord, section_id, revision))

    def list_sections(
        self,
        course_id: str | None = None,
        term_id: str | None = None,
        school_id: str | None = None,
        teacher_id: str | None = None,
        student_id: str | None = None,
    ) -> list[Versioned[Section]]:
        return self.listed(
            Section,
            "section",
            course=course_id,
            term=term_id,
            school=school_id,
            teacher=teacher_id,
            student=student_id,
        )

    def _section_references(self, section: Section) -> list[Violation]:
        problems = self.check_known("course", {"course_id": section.course_id})
        problems += self.check_known("org", {"school_id": section.school_id})
        problems += self.check_known(
            "term", {f"term_ids[{i}]": t for i, t in enumerate(section.term_ids)}
        )
        problems += self._people_problems(_indexed("teacher_ids", section.teacher_ids), "teacher")
        problems += self._people_problems(_indexed("student_ids", section.student_ids), "student")
        return problems

    def _people_problems(
        self, people: dict[str, str], role: str, field: str | None = None
    ) -> list[Violation]:
        allowed = ("student",) if role == "student" else ("teacher", "administrator")
        problems = []
        for at, person_id in people.items():
            entry = self.index.get("person", person_id)
            if entry is None:
                problems.append(Violation(field or at, f"unknown person {person_id!r}"))
            elif entry.data["role"] not in allowed:
                problems.append(
                    Violation(field or at, f"{person_id!r} is a {entry.data['role']}, not a {role}")
                )
        forgotten = self.personal.vault.forgotten_among(people.values())
        for at, person_id in people.items():
            if person_id in forgotten:
                description = f"{person_id!r} was forgotten (right to erasure)"
                problems.append(Violation(field or at, description))
        return problems

    # --- people ------------------------------------------------------------------------------

    def define_person(self, person_id: str, person: Person, traceparent: str = "") -> Saved:
        """A person and, for a guardian, the students they are guardian of."""
        person = replace(person, source="api")
        problems = person_problems(person_id, person)
        with self.writing():
            problems += self.check_known(
                "org", {f"school_ids[{i}]": s for i, s in enumerate(person.school_ids)}
            )
            problems += self._people_problems(
                _indexed("guardian_of", person.guardian_of), "student"
            )
            checked(problems)
            return self.saved(self.put(PersonRecord, person_id, person, traceparent))

    def get_person(self, person_id: str, revision: int | None = None) -> Versioned[Person]:
        record = self.require(PersonRecord, person_id, revision)
        return Versioned(record.key, record.revision, self._person(record.data))

    def list_people(
        self,
        role: str | None = None,
        school_id: str | None = None,
        guardian_of: str | None = None,
        after: str = "",
        limit: int | None = None,
    ) -> list[Versioned[Person]]:
        where = {"role": role, "school": school_id, "guardian_of": guardian_of}
        return [
            Versioned(e.key, e.revision, self._person(e.data))
            for e in self.index.entries("person", where, after=after, limit=limit)
        ]

    def _person(self, data: dict[str, Any]) -> Person:
        """A person as stored, with their personal fields opened."""
        return from_primitive(Person, self.opened("person", data))


def _added(ids: tuple[str, ...], person_id: str) -> tuple[str, ...]:
    return ids if person_id in ids else (*ids, person_id)


def _indexed(name: str, ids: Iterable[str]) -> dict[str, str]:
    return {f"{name}[{i}]": key for i, key in enumerate(ids)}
