"""The catalog as reporting knows it at a moment, built from the catalog's published
definitions (each revision kept with when it was published). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from arc_contracts import (
    REMOVED,
    ContractEvent,
    CourseDefinedV1,
    NetworkSettingsDefinedV1,
    OrgDefinedV1,
    OutcomeDefinedV1,
    PersonDefinedV1,
    PolicyDefinedV1,
    ScaleDefinedV1,
    SectionDefinedV1,
)
from arc_contracts.registry import BY_SUBJECT
from arc_reporting.domain.asof import known_by, utc

#: How a forgotten student (right to erasure) is shown.
REMOVED_STUDENT = "Removed student"


@dataclass(frozen=True)
class Entry:
    """One revision of one catalog definition, as stored."""

    subject: str
    entity_id: str
    revision: int
    known_at: datetime
    body: str

    def event(self) -> ContractEvent:
        return BY_SUBJECT[self.subject].model_validate_json(self.body)


#: The field naming each kind of catalog definition.
KEYS = {
    "outcome_defined": "outcome_id",
    "course_defined": "course_id",
    "section_defined": "section_id",
    "person_defined": "person_id",
    "policy_defined": "policy_id",
    "org_defined": "org_id",
    "term_defined": "term_id",
    "framework_defined": "framework_id",
}


def identity(event: ContractEvent) -> tuple[str, int] | None:
    """(entity id, revision) of a catalog definition; None for events reporting ignores."""
    if event.name in KEYS:
        return str(getattr(event, KEYS[event.name])), int(getattr(event, "revision", 1))
    if isinstance(event, NetworkSettingsDefinedV1):
        return "network", event.revision
    if isinstance(event, ScaleDefinedV1):
        return event.scale.scale_id, event.scale.revision
    return None


@dataclass
class Catalog:
    outcomes: dict[str, OutcomeDefinedV1] = field(default_factory=dict)
    courses: dict[str, CourseDefinedV1] = field(default_factory=dict)
    sections: dict[str, SectionDefinedV1] = field(default_factory=dict)
    people: dict[str, PersonDefinedV1] = field(default_factory=dict)
    orgs: dict[str, OrgDefinedV1] = field(default_factory=dict)
    #: The policy in force per (scope, scope id); retired overrides are gone.
    policies: dict[tuple[str, str | None], PolicyDefinedV1] = field(default_factory=dict)
    network: NetworkSettingsDefinedV1 | None = None
    #: Since when each student has been on each section's roster (without a break).
    enrolled_since: dict[tuple[str, str], datetime] = field(default_factory=dict)

    # --- people ----------------------------------------------------------------------------

    def name_of(self, person_id: str) -> str:
        person = self.people.get(person_id)
        if person is None:
            return person_id
        if REMOVED in (person.given_name, person.family_name):
            return REMOVED_STUDENT if person.role == "student" else "Removed person"
        return f"{person.given_name} {person.family_name}"

    def sort_name(self, person_id: str) -> tuple[str, str, str]:
        person = self.people.get(person_id)
        if person is None:
            return (person_id.lower(), "", person_id)
        return (person.family_name.lower(), person.given_name.lower(), person_id)

    def school_name(self, school_id: str | None) -> str:
        if school_id is None:
            return "No school"
        org = self.orgs.get(school_id)
        return org.org_name if org else school_id

    # --- rosters ---------------------------------------------------------------------------

    def sections_of_student(self, student_id: str) -> list[SectionDefinedV1]:
        return sorted(
            (s for s in self.sections.values() if student_id in s.student_ids),
            key=lambda s: (s.title, s.section_id),
        )

    def sections_of_teacher(self, teacher_id: str) -> list[SectionDefinedV1]:
        return sorted(
            (s for s in self.sections.values() if teacher_id in s.teacher_ids),
            key=lambda s: (s.title, s.section_id),
        )

    def school_of_section(self, section: SectionDefinedV1) -> str | None:
        course = self.courses.get(section.course_id)
        return section.school_id or (course.school_id if course else None)

    def sections_in(
        self, school_id: str | None = None, course_id: str | None = None
    ) -> list[SectionDefinedV1]:
        return sorted(
            (
                s
                for s in self.sections.values()
                if (school_id is None or self.school_of_section(s) == school_id)
                and (course_id is None or s.course_id == course_id)
            ),
            key=lambda s: (s.title, s.section_id),
        )

    def schools(self) -> list[str]:
        found = {self.school_of_section(s) for s in self.sections.values()}
        found |= {c.school_id for c in self.courses.values()}
        found |= {o.org_id for o in self.orgs.values() if o.kind == "school"}
        return sorted(s for s in found if s is not None)

    # --- courses and outcomes --------------------------------------------------------------

    def course_outcomes(self, course_id: str) -> list[tuple[OutcomeDefinedV1, bool]]:
        """The course's outcomes in the course's order, with their power flag (known and not
        retired ones only)."""
        course = self.courses.get(course_id)
        if course is None:
            return []
        return [
            (self.outcomes[item.outcome_id], item.power)
            for item in course.outcomes
            if item.outcome_id in self.outcomes and not self.outcomes[item.outcome_id].retired
        ]

    def courses_assessing(self, outcome_id: str) -> list[str]:
        return sorted(
            c.course_id
            for c in self.courses.values()
            if any(o.outcome_id == outcome_id for o in c.outcomes)
        )

    def course_policy(self, course_id: str) -> PolicyDefinedV1 | None:
        return self.policies.get(("course", course_id)) or self.policies.get(("network", None))

    def outcome_policy(self, outcome_id: str) -> PolicyDefinedV1 | None:
        """Outcome policy, else the first course (by id) assessing it, else the network's (the
        order mastery uses)."""
        found = self.policies.get(("outcome", outcome_id))
        for course_id in self.courses_assessing(outcome_id):
            found = found or self.policies.get(("course", course_id))
        return found or self.policies.get(("network", None))

    def excluded_tags(self, outcome_id: str) -> frozenset[str]:
        policy = self.outcome_policy(outcome_id)
        return frozenset(policy.excluded_evidence_tags) if policy else frozenset()


def build_catalog(entries: Iterable[Entry], as_of: datetime | None = None) -> Catalog:
    """The newest revision of each definition published by ``as_of``."""
    known = sorted(
        (e for e in entries if known_by(e.known_at, as_of)),
        key=lambda e: (utc(e.known_at), e.revision),
    )
    latest: dict[tuple[str, str], Entry] = {}
    for entry in known:
        current = latest.get((entry.subject, entry.entity_id))
        if current is None or entry.revision >= current.revision:
            latest[(entry.subject, entry.entity_id)] = entry
    catalog = Catalog()
    policies: list[PolicyDefinedV1] = []
    for entry in sorted(latest.values(), key=lambda e: (utc(e.known_at), e.revision)):
        _place(catalog, entry.event(), policies)
    for policy in policies:  # in the order they were published: the newest per scope wins
        scope = (policy.scope, policy.scope_id)
        if policy.retired:
            catalog.policies.pop(scope, None)
        else:
            catalog.policies[scope] = policy
    catalog.enrolled_since = _enrolment_starts(known)
    return catalog


def _place(catalog: Catalog, event: ContractEvent, policies: list[PolicyDefinedV1]) -> None:
    if isinstance(event, OutcomeDefinedV1):
        catalog.outcomes[event.outcome_id] = event
    elif isinstance(event, CourseDefinedV1):
        catalog.courses[event.course_id] = event
    elif isinstance(event, SectionDefinedV1):
        catalog.sections[event.section_id] = event
    elif isinstance(event, PersonDefinedV1):
        catalog.people[event.person_id] = event
    elif isinstance(event, OrgDefinedV1):
        catalog.orgs[event.org_id] = event
    elif isinstance(event, PolicyDefinedV1):
        policies.append(event)
    elif isinstance(event, NetworkSettingsDefinedV1):
        catalog.network = event


def _enrolment_starts(known: list[Entry]) -> dict[tuple[str, str], datetime]:
    """For each roster revision in order, a student who appears starts being enrolled then; one
    who disappears stops (and starts again if added back)."""
    starts: dict[tuple[str, str], datetime] = {}
    rosters: dict[str, set[str]] = {}
    revisions: dict[str, int] = {}
    for entry in known:
        if not entry.subject.endswith(".section_defined"):
            continue
        if entry.revision <= revisions.get(entry.entity_id, 0):
            continue
        revisions[entry.entity_id] = entry.revision
        section = entry.event()
        assert isinstance(section, SectionDefinedV1)
        now = set(section.student_ids)
        before = rosters.get(entry.entity_id, set())
        for student in now - before:
            starts[(entry.entity_id, student)] = utc(entry.known_at)
        for student in before - now:
            starts.pop((entry.entity_id, student), None)
        rosters[entry.entity_id] = now
    return starts
