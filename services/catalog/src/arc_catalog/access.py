"""What the access policy needs to know, answered by the catalog itself: it is where people,
sections and guardianships are defined, so it reads them from its own index (always up to date
with its own writes) instead of keeping the relationships view other services keep.

Also what a caller may see of the sections a list returns: a section's roster (its students) is
shown only to those who may read that section; to others, only the student the list was asked
about.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from arc_catalog.core import Versioned
from arc_catalog.domain.rosters import Person, Section
from arc_catalog.index import CatalogIndex
from arc_platform.auth import (
    AccessRequest,
    ReadDirectory,
    ReadPerson,
    ReadSchool,
    ReadSection,
    ReadStudent,
    RelationsSource,
    RequestContext,
    decide,
)
from arc_platform.auth.policy import Relations
from arc_platform.auth.relationships import person_of


class CatalogRelationships(RelationsSource):
    def __init__(self, index: CatalogIndex) -> None:
        self.index = index

    def relations(self, principal_id: str, request: AccessRequest) -> Relations:
        principal = self._person(principal_id)
        student_id = person_of(request)
        student = self._person(student_id) if student_id else {}
        student_sections = (
            frozenset(self.index.keys("section", {"student": student_id}))
            if student_id
            else frozenset()
        )
        section_id = request.section_id if isinstance(request, ReadSection) else None
        return Relations(
            principal_active=bool(principal.get("active", False)),
            principal_schools=frozenset(principal.get("school_ids", ())),
            sections_taught=frozenset(self.index.keys("section", {"teacher": principal_id})),
            guardian_of=frozenset(principal.get("guardian_of", ())),
            student_sections=student_sections,
            student_schools=frozenset(student.get("school_ids", ()))
            | self._schools_of(student_sections),
            section_school=self._school_of(section_id) if section_id else None,
        )

    def _person(self, person_id: str) -> dict[str, Any]:
        entry = self.index.get("person", person_id)
        return entry.data if entry else {}

    def _school_of(self, section_id: str) -> str | None:
        entry = self.index.get("section", section_id)
        school = entry.data.get("school_id") if entry else None
        return str(school) if school else None

    def _schools_of(self, section_ids: frozenset[str]) -> frozenset[str]:
        schools = (self._school_of(section) for section in section_ids)
        return frozenset(school for school in schools if school)


def visible_rosters(
    relationships: RelationsSource,
    context: RequestContext,
    sections: list[Versioned[Section]],
    asked_about: str | None = None,
) -> list[Versioned[Section]]:
    """``sections`` as the caller may see them: the roster of a section they may not read
    (a classmate's list, another school's class) is cut to ``asked_about``, the student the
    list was asked for (or emptied)."""
    principal = context.principal
    known = relationships.relations(principal.subject, ReadSection(""))
    shown = []
    for section in sections:
        facts = replace(known, section_school=section.value.school_id)
        if decide(principal, ReadSection(section.key), facts).allowed:
            shown.append(section)
            continue
        kept = tuple(s for s in section.value.student_ids if s == asked_about)
        shown.append(replace(section, value=replace(section.value, student_ids=kept)))
    return shown


def students_in(sections: list[Versioned[Section]]) -> list[str]:
    """The students on the rosters shown (for the access log)."""
    return sorted({student for s in sections for student in s.value.student_ids})


def students_among(people: list[Versioned[Person]]) -> list[str]:
    return [p.key for p in people if p.value.role == "student"]


def guardianships_cut_to(
    people: list[Versioned[Person]], student_id: str | None
) -> list[Versioned[Person]]:
    """Guardians listed for one student: whose guardian else they are is not part of the
    answer (a sibling's id is not that student's record)."""
    if student_id is None:
        return people
    return [
        replace(p, value=replace(p.value, guardian_of=(student_id,)))
        if student_id in p.value.guardian_of
        else p
        for p in people
    ]


def sections_asked(
    student_id: str | None, teacher_id: str | None, school_id: str | None
) -> AccessRequest:
    """What a list of sections is about, by its most telling filter: one student's sections
    are read like that student's records, one teacher's like their person record, a school's
    like the school; the unfiltered list is the network's directory."""
    if student_id:
        return ReadStudent(student_id)
    if teacher_id:
        return ReadPerson(teacher_id)
    if school_id:
        return ReadSchool(school_id)
    return ReadDirectory()


def people_asked(guardian_of: str | None, school_id: str | None) -> AccessRequest:
    """A student's guardians are read like the student's records; a school's people like the
    school; everyone (or everyone with a role) is the network's directory."""
    if guardian_of:
        return ReadStudent(guardian_of)
    if school_id:
        return ReadSchool(school_id)
    return ReadDirectory()
