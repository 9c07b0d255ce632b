"""The access rules of Mastery Arc, in one place: (principal, request, relations) → decision.

Pure: no I/O. What the catalog says about the people involved (which sections a teacher teaches,
whose guardian someone is, which schools a leader leads) arrives as :class:`Relations`, looked up
beforehand by :mod:`arc_platform.auth.relationships`. Everything is closed unless a rule below
opens it.

| role          | may                                                                      |
|---------------|--------------------------------------------------------------------------|
| student       | read their own records                                                   |
| guardian      | read the records of the students they are guardian of                   |
| teacher       | read students in sections they teach; enter evidence only there         |
| leader        | read students, sections and reports of their school(s)                  |
| network_admin | everything, including catalog changes and forgetting a student           |
| auditor       | read everything, replay and verify; no changes                          |
| integrator    | subscribe to published mastery (and warning) events; nothing else       |
| tool          | send xAPI statements (evidence) and read them back; nothing else        |

Every role but the integrator may read the catalog's definitions (outcomes, scales, policies,
courses): they are the network's published grading policy, open to everyone it grades. A
person's own catalog record is theirs to read; other people's records are read like student
records. Whole-network lists of people and sections are for administrators and auditors.
Relationship-based grants need the principal's catalog record to be active.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from arc_platform.auth.principal import Principal, Role

#: Contexts whose published events an integrator may subscribe to: mastery changes, and the
#: early warnings reporting publishes for integrators.
INTEGRATOR_CONTEXTS = frozenset({"mastery", "reporting"})


@dataclass(frozen=True)
class ReadStudent:
    """A student's records: standings, explanations, evidence, reports."""

    student_id: str
    kind: Literal["read_student"] = "read_student"


@dataclass(frozen=True)
class RecordEvidence:
    """Enter (or void) evidence for a student, in a section when the request names one."""

    student_id: str
    section_id: str | None = None
    kind: Literal["record_evidence"] = "record_evidence"


@dataclass(frozen=True)
class ReadPerson:
    """A person's catalog record (name, role, schools, guardianships): one's own, or read like
    a student's records (a student's guardian, teachers and school leaders)."""

    person_id: str
    kind: Literal["read_person"] = "read_person"


@dataclass(frozen=True)
class ReadSection:
    """A section's roster and class-wide reports."""

    section_id: str
    kind: Literal["read_section"] = "read_section"


@dataclass(frozen=True)
class ReadSchool:
    """School-wide lists and reports."""

    school_id: str
    kind: Literal["read_school"] = "read_school"


@dataclass(frozen=True)
class ReadDirectory:
    """Network-wide lists of people and sections (not scoped to a school or a student)."""

    kind: Literal["read_directory"] = "read_directory"


@dataclass(frozen=True)
class ReadCatalog:
    """Definitions: outcomes, scales, policies, courses."""

    kind: Literal["read_catalog"] = "read_catalog"


@dataclass(frozen=True)
class ChangeCatalog:
    """Define or change anything in the catalog (outcomes, people, sections, policies…)."""

    kind: Literal["change_catalog"] = "change_catalog"


@dataclass(frozen=True)
class ForgetStudent:
    """Forget a student for good (right to erasure): their personal data becomes unreadable
    everywhere. A network administrator's decision only."""

    student_id: str
    kind: Literal["forget_student"] = "forget_student"


@dataclass(frozen=True)
class ReadOperations:
    """Operational state: projection positions, lags."""

    kind: Literal["read_operations"] = "read_operations"


@dataclass(frozen=True)
class Audit:
    """Replay, chain verification and the access log."""

    kind: Literal["audit"] = "audit"


@dataclass(frozen=True)
class SendStatements:
    """Send xAPI statements, which become evidence for the students they name."""

    kind: Literal["send_statements"] = "send_statements"


@dataclass(frozen=True)
class ReadStatements:
    """Read stored xAPI statements back (and those that could not be mapped)."""

    kind: Literal["read_statements"] = "read_statements"


@dataclass(frozen=True)
class SubscribeEvents:
    """Subscribe to the published events of one context."""

    context: str
    kind: Literal["subscribe_events"] = "subscribe_events"


AccessRequest = (
    ReadStudent
    | RecordEvidence
    | ReadPerson
    | ReadSection
    | ReadSchool
    | ReadDirectory
    | ReadCatalog
    | ChangeCatalog
    | ForgetStudent
    | ReadOperations
    | Audit
    | SendStatements
    | ReadStatements
    | SubscribeEvents
)


@dataclass(frozen=True)
class Relations:
    """What the catalog says about the principal and about the record asked for."""

    #: False when the catalog marks the principal's person record inactive (or does not know it:
    #: relationship-based access then has nothing to stand on anyway).
    principal_active: bool = True
    principal_schools: frozenset[str] = frozenset()
    sections_taught: frozenset[str] = frozenset()
    guardian_of: frozenset[str] = frozenset()
    #: Sections the student of the request is enrolled in, and their schools.
    student_sections: frozenset[str] = frozenset()
    student_schools: frozenset[str] = frozenset()
    #: The school of the section of the request.
    section_school: str | None = None


NOTHING_KNOWN = Relations(principal_active=False)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: Why, for the audit log only: never shown to the caller.
    reason: str


def decide(principal: Principal, request: AccessRequest, relations: Relations) -> Decision:
    """Allowed if any of the principal's roles allows it."""
    for role in sorted(principal.roles):
        reason = _grant(role, principal, request, relations)
        if reason:
            return Decision(True, f"{role}: {reason}")
    roles = ", ".join(sorted(principal.roles)) or "no role"
    return Decision(False, f"no rule lets {roles} {request.kind}")


def _grant(role: Role, principal: Principal, request: AccessRequest, rel: Relations) -> str:
    """The reason ``role`` allows ``request``, or "" when it does not."""
    if role is Role.NETWORK_ADMIN:
        return "network administrators may do everything"
    if role is Role.AUDITOR:
        return _auditor(request)
    if role is Role.INTEGRATOR:
        if isinstance(request, SubscribeEvents) and request.context in INTEGRATOR_CONTEXTS:
            return "integrators subscribe to published mastery and warning events"
        return ""
    if isinstance(request, ReadCatalog):
        return "definitions are readable by every person with a role"
    if role is Role.TOOL:
        if isinstance(request, SendStatements | ReadStatements):
            return "tools send xAPI statements and read them back"
        return ""
    if isinstance(request, ReadPerson) and request.person_id == principal.subject:
        return "a person reads their own catalog record"
    if role is Role.STUDENT:
        if isinstance(request, ReadStudent) and request.student_id == principal.subject:
            return "a student reads their own records"
        return ""
    if not rel.principal_active:
        return ""
    if role is Role.GUARDIAN:
        if isinstance(request, ReadStudent | ReadPerson) and _about(request) in rel.guardian_of:
            return "a guardian reads the records of their students"
        return ""
    if role is Role.TEACHER:
        return _teacher(request, rel)
    if role is Role.LEADER:
        return _leader(request, rel)
    return ""


def _about(request: ReadStudent | ReadPerson) -> str:
    return request.student_id if isinstance(request, ReadStudent) else request.person_id


def _auditor(request: AccessRequest) -> str:
    if isinstance(request, RecordEvidence | ChangeCatalog | ForgetStudent | SendStatements):
        return ""
    return "auditors read everything, replay and verify"


def _teacher(request: AccessRequest, rel: Relations) -> str:
    shared = rel.sections_taught & rel.student_sections
    if isinstance(request, ReadStudent | ReadPerson) and shared:
        return "a teacher reads students of sections they teach"
    if isinstance(request, RecordEvidence):
        if request.section_id is None and shared:
            return "a teacher enters evidence for students of sections they teach"
        if request.section_id is not None and request.section_id in shared:
            return "a teacher enters evidence in a section they teach, for its students"
        return ""
    if isinstance(request, ReadSection) and request.section_id in rel.sections_taught:
        return "a teacher reads sections they teach"
    return ""


def _leader(request: AccessRequest, rel: Relations) -> str:
    schools = rel.principal_schools
    if isinstance(request, ReadStudent | ReadPerson) and schools & rel.student_schools:
        return "a leader reads students of their schools"
    if isinstance(request, ReadSection) and rel.section_school in schools:
        return "a leader reads sections of their schools"
    if isinstance(request, ReadSchool) and request.school_id in schools:
        return "a leader reads their schools"
    return ""
