"""Who is related to whom, from the catalog's events: the facts the access policy needs.

A small SQL view (tables ``rel_*`` in the service's own database) kept by a tracked consumer of
the catalog stream: sections with their school, teachers and students
(``SectionDefinedV1``), people with their schools, guardianships and whether they are active
(``PersonDefinedV1``). Each event carries the whole current definition at a revision, so
applying it replaces what was known, and an older revision never overwrites a newer one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from nats.js import JetStreamContext
from sqlalchemy.engine import Connection, Engine

from arc_contracts import PersonDefinedV1, SectionDefinedV1, stream_name
from arc_platform.auth.policy import (
    AccessRequest,
    ReadPerson,
    ReadSection,
    ReadStudent,
    RecordEvidence,
    Relations,
)
from arc_platform.consumer import Delivery, TrackedConsumer
from arc_platform.views import TrackedView

#: The position this view keeps in ``view_tracking`` (beside any other view of the service).
POSITION_KEY = f"relationships:{stream_name('catalog')}"

metadata = sa.MetaData()
people = sa.Table(
    "rel_people",
    metadata,
    sa.Column("person_id", sa.String(200), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
)
person_schools = sa.Table(
    "rel_person_schools",
    metadata,
    sa.Column("person_id", sa.String(200), primary_key=True),
    sa.Column("school_id", sa.String(200), primary_key=True),
)
guardians = sa.Table(
    "rel_guardians",
    metadata,
    sa.Column("guardian_id", sa.String(200), primary_key=True),
    sa.Column("student_id", sa.String(200), primary_key=True, index=True),
)
sections = sa.Table(
    "rel_sections",
    metadata,
    sa.Column("section_id", sa.String(200), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("school_id", sa.String(200), nullable=True),
)
members = sa.Table(
    "rel_section_members",
    metadata,
    sa.Column("section_id", sa.String(200), primary_key=True),
    sa.Column("person_id", sa.String(200), primary_key=True, index=True),
    sa.Column("kind", sa.String(10), primary_key=True),  # "teacher" or "student"
)


class RelationshipsView:
    def __init__(self, engine: Engine) -> None:
        self.view = TrackedView(engine, metadata)
        self.engine = engine

    def position(self, _key: str = POSITION_KEY) -> int:
        return self.view.position(POSITION_KEY)

    def consumer(self, js: JetStreamContext) -> TrackedConsumer:
        """The tracked consumer that keeps this view: add ``consumer(js).run`` to the loops."""
        return TrackedConsumer(js, "catalog", self.position, self.apply, position_key=POSITION_KEY)

    # --- applying catalog events ----------------------------------------------------------

    def apply(self, batch: list[Delivery]) -> None:
        """Apply what is new in ``batch`` and record the position in the same transaction.
        Replicas sharing one database may run this concurrently: what another already applied
        is skipped, and a lost race raises (the consumer then resumes from the position)."""
        current = self.view.position(POSITION_KEY)
        fresh = [d for d in batch if d.sequence > current]
        if not fresh:
            return
        with self.view.advancing(POSITION_KEY, fresh[-1].sequence) as conn:
            for delivery in fresh:
                if isinstance(delivery.event, SectionDefinedV1):
                    self._section(conn, delivery.event)
                elif isinstance(delivery.event, PersonDefinedV1):
                    self._person(conn, delivery.event)

    def _newer(
        self, conn: Connection, table: sa.Table, key: sa.Column[str], value: str, revision: int
    ) -> bool:
        known = conn.execute(sa.select(table.c.revision).where(key == value)).scalar()
        return known is None or revision > known

    def _section(self, conn: Connection, event: SectionDefinedV1) -> None:
        if not self._newer(conn, sections, sections.c.section_id, event.section_id, event.revision):
            return
        conn.execute(sa.delete(sections).where(sections.c.section_id == event.section_id))
        conn.execute(
            sa.insert(sections).values(
                section_id=event.section_id, revision=event.revision, school_id=event.school_id
            )
        )
        conn.execute(sa.delete(members).where(members.c.section_id == event.section_id))
        rows = [
            {"section_id": event.section_id, "person_id": t, "kind": "teacher"}
            for t in set(event.teacher_ids)
        ]
        rows += [
            {"section_id": event.section_id, "person_id": s, "kind": "student"}
            for s in set(event.student_ids)
        ]
        if rows:
            conn.execute(sa.insert(members), rows)

    def _person(self, conn: Connection, event: PersonDefinedV1) -> None:
        if not self._newer(conn, people, people.c.person_id, event.person_id, event.revision):
            return
        person = event.person_id
        conn.execute(sa.delete(people).where(people.c.person_id == person))
        conn.execute(
            sa.insert(people).values(
                person_id=person, revision=event.revision, role=event.role, active=event.active
            )
        )
        conn.execute(sa.delete(person_schools).where(person_schools.c.person_id == person))
        if event.school_ids:
            conn.execute(
                sa.insert(person_schools),
                [{"person_id": person, "school_id": s} for s in set(event.school_ids)],
            )
        conn.execute(sa.delete(guardians).where(guardians.c.guardian_id == person))
        if event.guardian_of:
            conn.execute(
                sa.insert(guardians),
                [{"guardian_id": person, "student_id": s} for s in set(event.guardian_of)],
            )

    # --- questions the policy needs answered ----------------------------------------------

    def relations(self, principal_id: str, request: AccessRequest) -> Relations:
        """The facts about ``principal_id`` and the record ``request`` is about."""
        student = person_of(request)
        section_id = request.section_id if isinstance(request, ReadSection) else None
        principal = {"principal_id": principal_id}
        with self.engine.connect() as conn:
            active = conn.execute(_PRINCIPAL_ACTIVE, principal).scalar()
            student_sections = _set(conn, _STUDENT_SECTIONS, {"student_id": student})
            return Relations(
                principal_active=bool(active),
                principal_schools=_set(conn, _PRINCIPAL_SCHOOLS, principal),
                sections_taught=_set(conn, _SECTIONS_TAUGHT, principal),
                guardian_of=_set(conn, _GUARDIAN_OF, principal),
                student_sections=student_sections,
                student_schools=self._schools_of_student(conn, student, student_sections),
                section_school=conn.execute(_SECTION_SCHOOL, {"section_id": section_id}).scalar()
                if section_id
                else None,
            )

    def _schools_of_student(
        self, conn: Connection, student: str | None, in_sections: Iterable[str]
    ) -> frozenset[str]:
        if student is None:
            return frozenset()
        own = _set(conn, _STUDENT_SCHOOLS, {"student_id": student})
        of_sections = _set(conn, _SCHOOLS_OF_SECTIONS, {"section_ids": list(in_sections)})
        return own | of_sections


#: The policy's questions, asked on every request by a teacher, guardian or leader: built once
#: (building a statement per call cost more than running it, and left cyclic garbage behind).
_PRINCIPAL_ACTIVE = sa.select(people.c.active).where(
    people.c.person_id == sa.bindparam("principal_id")
)
_STUDENT_SECTIONS = sa.select(members.c.section_id).where(
    members.c.person_id == sa.bindparam("student_id"), members.c.kind == "student"
)
_PRINCIPAL_SCHOOLS = sa.select(person_schools.c.school_id).where(
    person_schools.c.person_id == sa.bindparam("principal_id")
)
_SECTIONS_TAUGHT = sa.select(members.c.section_id).where(
    members.c.person_id == sa.bindparam("principal_id"), members.c.kind == "teacher"
)
_GUARDIAN_OF = sa.select(guardians.c.student_id).where(
    guardians.c.guardian_id == sa.bindparam("principal_id")
)
_SECTION_SCHOOL = sa.select(sections.c.school_id).where(
    sections.c.section_id == sa.bindparam("section_id")
)
_STUDENT_SCHOOLS = sa.select(person_schools.c.school_id).where(
    person_schools.c.person_id == sa.bindparam("student_id")
)
_SCHOOLS_OF_SECTIONS = sa.select(sections.c.school_id).where(
    sections.c.section_id.in_(sa.bindparam("section_ids", expanding=True)),
    sections.c.school_id.is_not(None),
)


def person_of(request: AccessRequest) -> str | None:
    """The student (or person) whose records ``request`` is about, if any."""
    if isinstance(request, ReadStudent | RecordEvidence):
        return request.student_id
    if isinstance(request, ReadPerson):
        return request.person_id
    return None


def _set(
    conn: Connection, query: sa.Select[tuple[str]], params: Mapping[str, object]
) -> frozenset[str]:
    return frozenset(str(v) for v in conn.execute(query, params).scalars() if v is not None)
