"""The access policy as a table: every role against every kind of request.

The world: section sec-1 (school sch-A) is taught by t-1 and has student stu-1; section sec-2
(school sch-B) is taught by t-2 and has stu-2. g-1 is stu-1's guardian; l-1 leads sch-A.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from arc_platform.auth.policy import (
    NOTHING_KNOWN,
    AccessRequest,
    Audit,
    ChangeCatalog,
    ForgetStudent,
    ReadCatalog,
    ReadDirectory,
    ReadOperations,
    ReadPerson,
    ReadSchool,
    ReadSection,
    ReadStatements,
    ReadStudent,
    RecordEvidence,
    Relations,
    SendStatements,
    SubscribeEvents,
    decide,
)
from arc_platform.auth.principal import Principal, Role


@dataclass(frozen=True)
class Section:
    school: str
    teachers: frozenset[str]
    students: frozenset[str]


@dataclass
class World:
    """What the catalog says, and the facts the relationships view would answer from it."""

    sections: dict[str, Section] = field(default_factory=dict)
    guardians: dict[str, frozenset[str]] = field(default_factory=dict)
    schools: dict[str, frozenset[str]] = field(default_factory=dict)
    inactive: frozenset[str] = frozenset()

    def relations(self, principal: str, request: AccessRequest) -> Relations:
        student = getattr(request, "student_id", None) or getattr(request, "person_id", None)
        in_sections = frozenset(s for s, sec in self.sections.items() if student in sec.students)
        section = request.section_id if isinstance(request, ReadSection) else None
        return Relations(
            principal_active=principal not in self.inactive,
            principal_schools=self.schools.get(principal, frozenset()),
            sections_taught=frozenset(
                s for s, sec in self.sections.items() if principal in sec.teachers
            ),
            guardian_of=self.guardians.get(principal, frozenset()),
            student_sections=in_sections,
            student_schools=frozenset(self.sections[s].school for s in in_sections),
            section_school=self.sections[section].school if section in self.sections else None,
        )


WORLD = World(
    sections={
        "sec-1": Section("sch-A", frozenset({"t-1"}), frozenset({"stu-1"})),
        "sec-2": Section("sch-B", frozenset({"t-2"}), frozenset({"stu-2"})),
    },
    guardians={"g-1": frozenset({"stu-1"})},
    schools={"l-1": frozenset({"sch-A"})},
)

PEOPLE = {
    Role.STUDENT: Principal("stu-1", frozenset({Role.STUDENT})),
    Role.GUARDIAN: Principal("g-1", frozenset({Role.GUARDIAN})),
    Role.TEACHER: Principal("t-1", frozenset({Role.TEACHER})),
    Role.LEADER: Principal("l-1", frozenset({Role.LEADER})),
    Role.NETWORK_ADMIN: Principal("admin-1", frozenset({Role.NETWORK_ADMIN})),
    Role.AUDITOR: Principal("aud-1", frozenset({Role.AUDITOR})),
    Role.INTEGRATOR: Principal("sis-1", frozenset({Role.INTEGRATOR})),
    Role.TOOL: Principal("quiz-1", frozenset({Role.TOOL})),
}

REQUESTS: dict[str, AccessRequest] = {
    "read stu-1 (own / related)": ReadStudent("stu-1"),
    "read stu-2 (unrelated)": ReadStudent("stu-2"),
    "record for stu-1": RecordEvidence("stu-1"),
    "record for stu-1 in sec-1": RecordEvidence("stu-1", "sec-1"),
    "record for stu-1 in sec-2 (not enrolled there)": RecordEvidence("stu-1", "sec-2"),
    "record for stu-2 in sec-2": RecordEvidence("stu-2", "sec-2"),
    "record for stu-2": RecordEvidence("stu-2"),
    "read person stu-1 (own / related)": ReadPerson("stu-1"),
    "read person stu-2 (unrelated)": ReadPerson("stu-2"),
    "read the whole directory": ReadDirectory(),
    "read sec-1": ReadSection("sec-1"),
    "read sec-2": ReadSection("sec-2"),
    "read sch-A": ReadSchool("sch-A"),
    "read sch-B": ReadSchool("sch-B"),
    "read catalog": ReadCatalog(),
    "change catalog": ChangeCatalog(),
    "forget stu-1": ForgetStudent("stu-1"),
    "read operations": ReadOperations(),
    "audit (replay, verify, access log)": Audit(),
    "send xAPI statements": SendStatements(),
    "read xAPI statements": ReadStatements(),
    "subscribe mastery events": SubscribeEvents("mastery"),
    "subscribe warning events": SubscribeEvents("reporting"),
    "subscribe evidence events": SubscribeEvents("evidence"),
    "subscribe catalog events": SubscribeEvents("catalog"),
}

EVERYTHING = set(REQUESTS)
WRITES = {name for name in REQUESTS if name.startswith(("record", "change", "forget", "send"))}
STU_1 = {"read stu-1 (own / related)", "read person stu-1 (own / related)"}
ALLOWED: dict[Role, set[str]] = {
    Role.STUDENT: {*STU_1, "read catalog"},
    Role.GUARDIAN: {*STU_1, "read catalog"},
    Role.TEACHER: {
        *STU_1,
        "record for stu-1",
        "record for stu-1 in sec-1",
        "read sec-1",
        "read catalog",
    },
    Role.LEADER: {*STU_1, "read sec-1", "read sch-A", "read catalog"},
    Role.NETWORK_ADMIN: EVERYTHING,
    Role.AUDITOR: EVERYTHING - WRITES,
    Role.INTEGRATOR: {"subscribe mastery events", "subscribe warning events"},
    Role.TOOL: {"send xAPI statements", "read xAPI statements", "read catalog"},
}


def test_the_table_covers_every_role_and_every_kind_of_request() -> None:
    assert set(ALLOWED) == set(Role) == set(PEOPLE)
    kinds = {request.kind for request in REQUESTS.values()}
    assert kinds == {
        "read_student",
        "record_evidence",
        "read_person",
        "read_section",
        "read_school",
        "read_directory",
        "read_catalog",
        "change_catalog",
        "forget_student",
        "read_operations",
        "audit",
        "send_statements",
        "read_statements",
        "subscribe_events",
    }


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("name", list(REQUESTS))
def test_every_role_against_every_request(role: Role, name: str) -> None:
    principal, request = PEOPLE[role], REQUESTS[name]
    decision = decide(principal, request, WORLD.relations(principal.subject, request))
    expected = name in ALLOWED[role]
    assert decision.allowed is expected, f"{role} {name}: {decision.reason}"
    assert decision.reason


def test_a_student_reads_only_their_own_records_even_in_the_same_section() -> None:
    classmate = Principal("stu-9", frozenset({Role.STUDENT}))
    world = World(sections={"sec-1": Section("sch-A", frozenset(), frozenset({"stu-1", "stu-9"}))})
    request = ReadStudent("stu-1")
    assert not decide(classmate, request, world.relations("stu-9", request)).allowed


def test_relationship_rights_end_when_the_catalog_marks_the_person_inactive() -> None:
    world = World(sections=WORLD.sections, guardians=WORLD.guardians, inactive=frozenset({"t-1"}))
    teacher, guardian = PEOPLE[Role.TEACHER], PEOPLE[Role.GUARDIAN]
    for request in (ReadStudent("stu-1"), RecordEvidence("stu-1", "sec-1")):
        assert not decide(teacher, request, world.relations("t-1", request)).allowed
    request = ReadStudent("stu-1")
    assert decide(guardian, request, world.relations("g-1", request)).allowed


def test_a_person_with_several_roles_has_the_rights_of_each() -> None:
    teacher_and_parent = Principal("t-2", frozenset({Role.TEACHER, Role.GUARDIAN}))
    world = World(sections=WORLD.sections, guardians={"t-2": frozenset({"stu-1"})})
    for student, allowed in (("stu-1", True), ("stu-2", True), ("stu-3", False)):
        request = ReadStudent(student)
        decision = decide(teacher_and_parent, request, world.relations("t-2", request))
        assert decision.allowed is allowed, student
    # …but entering evidence stays a teacher's right, only for their own sections.
    entry = RecordEvidence("stu-1")
    assert not decide(teacher_and_parent, entry, world.relations("t-2", entry)).allowed


def test_no_role_no_access_and_unknown_relations_open_nothing() -> None:
    nobody = Principal("x", frozenset())
    for request in REQUESTS.values():
        assert not decide(nobody, request, NOTHING_KNOWN).allowed
    for role in (Role.GUARDIAN, Role.TEACHER, Role.LEADER):
        assert not decide(PEOPLE[role], ReadStudent("stu-1"), NOTHING_KNOWN).allowed


def test_a_leader_reaches_students_through_the_schools_of_their_sections() -> None:
    leader_b = Principal("l-2", frozenset({Role.LEADER}))
    world = World(sections=WORLD.sections, schools={"l-2": frozenset({"sch-B"})})
    for student, allowed in (("stu-2", True), ("stu-1", False)):
        request = ReadStudent(student)
        assert decide(leader_b, request, world.relations("l-2", request)).allowed is allowed


def test_every_person_reads_their_own_catalog_record_and_systems_have_none() -> None:
    for role, principal in PEOPLE.items():
        request = ReadPerson(principal.subject)
        decision = decide(principal, request, NOTHING_KNOWN)
        assert decision.allowed is (role not in (Role.INTEGRATOR, Role.TOOL)), role
    # Inactive people too: it is their own record.
    world = World(inactive=frozenset({"t-1"}))
    teacher = PEOPLE[Role.TEACHER]
    assert decide(teacher, ReadPerson("t-1"), world.relations("t-1", ReadPerson("t-1"))).allowed
