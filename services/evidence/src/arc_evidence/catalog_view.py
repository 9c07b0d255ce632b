"""Evidence's local view of the catalog and roster, built only from catalog events
(``OutcomeDefinedV1``, ``PersonDefinedV1``, ``SectionDefinedV1``): evidence never calls the
catalog to check an attempt. Each definition replaces the previous one only when its
``revision`` is higher, so a re-delivered or older definition changes nothing."""

from __future__ import annotations

import json
import logging
import threading

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from arc_contracts import OutcomeDefinedV1, PersonDefinedV1, ProficiencyScaleV1, SectionDefinedV1
from arc_evidence.rules import KnownOutcome, KnownSection, StudentStanding
from arc_platform.consumer import Delivery
from arc_platform.views import TrackedView

log = logging.getLogger(__name__)

#: Bump when the tables below change: the view is then dropped and rebuilt from the stream.
SCHEMA_VERSION = 2
CATALOG_STREAM = "ARC_CATALOG"
#: Tables of earlier schema versions, dropped on upgrade.
OLD_TABLES = ("known_outcomes",)

metadata = sa.MetaData()
outcomes = sa.Table(
    "catalog_outcomes",
    metadata,
    sa.Column("outcome_id", sa.String(200), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("code", sa.String(200), nullable=False),
    sa.Column("scale", sa.Text, nullable=False),
    sa.Column("retired", sa.Boolean, nullable=False),
    sa.Column("case_uri", sa.String(1000), nullable=True, index=True),
)
people = sa.Table(
    "catalog_people",
    metadata,
    sa.Column("person_id", sa.String(200), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
)
sections = sa.Table(
    "catalog_sections",
    metadata,
    sa.Column("section_id", sa.String(200), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("teacher_ids", sa.Text, nullable=False),
)
enrolments = sa.Table(
    "catalog_enrolments",
    metadata,
    sa.Column("section_id", sa.String(200), primary_key=True),
    sa.Column("student_id", sa.String(200), primary_key=True, index=True),
)
#: Lookups made for every attempt, built once: building a statement per call cost more than
#: running it, and left cyclic garbage for the collector.
_OUTCOME_BY_ID = (
    sa.select(outcomes)
    .where(outcomes.c.outcome_id == sa.bindparam("outcome_id"))
    .order_by(outcomes.c.outcome_id)
)
_OUTCOMES_BY_CODE = (
    sa.select(outcomes)
    .where(sa.func.lower(outcomes.c.code) == sa.bindparam("code"))
    .order_by(outcomes.c.outcome_id)
)
_OUTCOMES_BY_URI = (
    sa.select(outcomes)
    .where(outcomes.c.case_uri == sa.bindparam("uri"))
    .order_by(outcomes.c.outcome_id)
)
_PERSON = sa.select(people.c.role, people.c.active).where(
    people.c.person_id == sa.bindparam("person_id")
)
_ENROLLED = (
    sa.select(enrolments.c.section_id)
    .where(enrolments.c.student_id == sa.bindparam("student_id"))
    .limit(1)
)
_SECTION = sa.select(sections).where(sections.c.section_id == sa.bindparam("section_id"))
_SECTION_STUDENTS = sa.select(enrolments.c.student_id).where(
    enrolments.c.section_id == sa.bindparam("section_id")
)
VIEW_TABLES = ("catalog_outcomes", "catalog_people", "catalog_sections", "catalog_enrolments")
schema = sa.Table(
    "catalog_view_schema",
    sa.MetaData(),
    sa.Column("version", sa.Integer, nullable=False),
)


def migrate(engine: Engine) -> None:
    """Drop a view built by an older schema, so that it is rebuilt from the catalog stream."""
    schema.create(engine, checkfirst=True)
    with engine.begin() as conn:
        found = conn.execute(sa.select(schema.c.version)).scalar()
        if found == SCHEMA_VERSION:
            return
        for table in [*OLD_TABLES, *VIEW_TABLES]:
            conn.execute(sa.text(f'DROP TABLE IF EXISTS "{table}"'))
        if sa.inspect(conn).has_table("view_tracking"):
            conn.execute(
                sa.text("DELETE FROM view_tracking WHERE stream = :stream"),
                {"stream": CATALOG_STREAM},
            )
        conn.execute(sa.delete(schema))
        conn.execute(sa.insert(schema).values(version=SCHEMA_VERSION))
    if found is not None:
        log.info("catalog view schema %s -> %s: rebuilding from the stream", found, SCHEMA_VERSION)


class CatalogView:
    """Outcomes found are remembered until this process next applies catalog events (every
    attempt asks for its outcome; a definition changes a few times a year). An outcome not
    found is asked again each time: another replica sharing the view's tables may have just
    written it, and a refusal should not outlive that."""

    def __init__(self, engine: Engine) -> None:
        migrate(engine)
        self.view = TrackedView(engine, metadata)
        self._known_outcomes: dict[str, KnownOutcome] = {}
        #: Bumped by every apply, so a lookup read before it is not remembered after it.
        self._generation = 0
        self._remembering = threading.Lock()

    def position(self, stream: str) -> int:
        return self.view.position(stream)

    def apply(self, batch: list[Delivery]) -> None:
        try:
            self._apply(batch)
        finally:
            with self._remembering:
                self._generation += 1
                self._known_outcomes.clear()

    def _apply(self, batch: list[Delivery]) -> None:
        with self.view.advancing(batch[0].tracking_name, batch[-1].sequence) as conn:
            for delivery in batch:
                event = delivery.event
                if isinstance(event, OutcomeDefinedV1):
                    self._outcome(conn, event)
                elif isinstance(event, PersonDefinedV1):
                    self._person(conn, event)
                elif isinstance(event, SectionDefinedV1):
                    self._section(conn, event)
                elif delivery.problem:
                    log.error(
                        "skipped malformed catalog message %s: %s",
                        delivery.sequence,
                        delivery.problem,
                    )

    @staticmethod
    def _newer(conn: sa.Connection, table: sa.Table, key: str, value: str, revision: int) -> bool:
        """Whether ``revision`` replaces what the view holds; removes the old row if so."""
        current = conn.execute(sa.select(table.c.revision).where(table.c[key] == value)).first()
        if current is not None and current[0] >= revision:
            return False
        conn.execute(sa.delete(table).where(table.c[key] == value))
        return True

    def _outcome(self, conn: sa.Connection, event: OutcomeDefinedV1) -> None:
        if self._newer(conn, outcomes, "outcome_id", event.outcome_id, event.revision):
            conn.execute(
                sa.insert(outcomes).values(
                    outcome_id=event.outcome_id,
                    revision=event.revision,
                    code=event.code,
                    scale=event.scale.model_dump_json(),
                    retired=event.retired,
                    case_uri=event.case_uri,
                )
            )

    def _person(self, conn: sa.Connection, event: PersonDefinedV1) -> None:
        if self._newer(conn, people, "person_id", event.person_id, event.revision):
            conn.execute(
                sa.insert(people).values(
                    person_id=event.person_id,
                    revision=event.revision,
                    role=event.role,
                    active=event.active,
                )
            )

    def _section(self, conn: sa.Connection, event: SectionDefinedV1) -> None:
        if not self._newer(conn, sections, "section_id", event.section_id, event.revision):
            return
        conn.execute(
            sa.insert(sections).values(
                section_id=event.section_id,
                revision=event.revision,
                teacher_ids=json.dumps(list(event.teacher_ids)),
            )
        )
        conn.execute(sa.delete(enrolments).where(enrolments.c.section_id == event.section_id))
        students = sorted(set(event.student_ids))
        if students:
            conn.execute(
                sa.insert(enrolments),
                [{"section_id": event.section_id, "student_id": s} for s in students],
            )

    # CatalogLookup ---------------------------------------------------------------------------

    def outcome(self, outcome_id: str) -> KnownOutcome | None:
        remembered = self._known_outcomes.get(outcome_id)
        if remembered is not None:
            return remembered
        generation = self._generation
        found = self._outcomes(_OUTCOME_BY_ID, {"outcome_id": outcome_id})
        if not found:
            return None
        with self._remembering:
            if generation == self._generation:  # no apply since the read began
                self._known_outcomes[outcome_id] = found[0]
        return found[0]

    def outcome_by_code(self, code: str) -> KnownOutcome | None:
        """The one outcome with this code (any case), or None if none or several."""
        found = self._outcomes(_OUTCOMES_BY_CODE, {"code": code.strip().lower()})
        return found[0] if len(found) == 1 else None

    def outcomes_aligned_to(self, uri: str) -> list[KnownOutcome]:
        return self._outcomes(_OUTCOMES_BY_URI, {"uri": uri})

    def _outcomes(
        self, query: sa.Select[tuple[object, ...]], params: dict[str, str]
    ) -> list[KnownOutcome]:
        with self.view.engine.connect() as conn:
            rows = conn.execute(query, params)
            return [
                KnownOutcome(
                    outcome_id=row.outcome_id,
                    revision=int(row.revision),
                    scale=ProficiencyScaleV1.model_validate_json(row.scale),
                    retired=bool(row.retired),
                    code=row.code,
                    case_uri=row.case_uri,
                )
                for row in rows
            ]

    def student(self, student_id: str) -> StudentStanding:
        """A person definition decides; without one, being on a section roster is enough."""
        with self.view.engine.connect() as conn:
            person = conn.execute(_PERSON, {"person_id": student_id}).first()
            if person is not None:
                if person.role != "student":
                    return "not_a_student"
                return "student" if person.active else "inactive"
            enrolled = conn.execute(_ENROLLED, {"student_id": student_id}).first()
        return "student" if enrolled is not None else "unknown"

    def section(self, section_id: str) -> KnownSection | None:
        with self.view.engine.connect() as conn:
            found = conn.execute(_SECTION, {"section_id": section_id}).first()
            if found is None:
                return None
            students = conn.execute(_SECTION_STUDENTS, {"section_id": section_id}).scalars()
            return KnownSection(
                section_id=section_id,
                revision=int(found.revision),
                student_ids=frozenset(students),
                teacher_ids=frozenset(json.loads(found.teacher_ids)),
            )
