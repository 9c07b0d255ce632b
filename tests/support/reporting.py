"""A school's story told as events, fed straight into reporting's read model (for
integration and HTTP tests of reporting on real SQLite/PostgreSQL). Mastery is not running
here: ``Story.record`` also publishes the ``mastery_changed`` a ``most_recent`` policy gives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from arc_contracts import (
    AttemptRecordedV1,
    AttemptVoidedV1,
    ContractEvent,
    CourseDefinedV1,
    CourseOutcomeV1,
    Envelope,
    GradeBandV1,
    MasteryCauseV1,
    MasteryChangedV1,
    MasteryValueV1,
    NetworkSettingsDefinedV1,
    OrgDefinedV1,
    OutcomeDefinedV1,
    PersonDefinedV1,
    PolicyDefinedV1,
    ProficiencyScaleV1,
    SectionDefinedV1,
)
from arc_platform.auth import RelationshipsView
from arc_platform.auth.dev_issuer import DemoUser, DevIssuerServer
from arc_platform.consumer import Delivery
from arc_reporting.access import local_access
from arc_reporting.read_model import ReportingReadModel

FOUR = ProficiencyScaleV1.model_validate(
    {
        "scale_id": "four",
        "name": "Four-point",
        "levels": [
            {"value": 1, "label": "Not yet"},
            {"value": 2, "label": "Approaching"},
            {"value": 3, "label": "Meets"},
            {"value": 4, "label": "Exceeds"},
        ],
        "mastery_threshold": 3,
    }
)
TERM_START = datetime(2026, 9, 1, 9, tzinfo=UTC)


def day(n: int) -> datetime:
    """Day ``n`` of the term (day 0 is 2026-09-01)."""
    return TERM_START + timedelta(days=n)


def status_for(value: Decimal) -> str:
    if value >= 3:
        return "mastered"
    return "approaching" if value >= 2 else "not_yet"


def label_for(value: Decimal) -> str:
    return {1: "Not yet", 2: "Approaching", 3: "Meets", 4: "Exceeds"}[int(value)]


@dataclass
class Story:
    """Feeds events to the read model in the order told, each stream with its own sequence."""

    model: ReportingReadModel
    sequences: dict[str, int] = field(default_factory=dict)
    standing: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    #: The catalog as told so far, and who else hears it (the access guard's relationships).
    catalog_told: list[Delivery] = field(default_factory=list)
    listeners: list[RelationshipsView] = field(default_factory=list)

    def publish(self, event: ContractEvent, at: datetime) -> int:
        stream = f"ARC_{event.context.upper()}"
        key = stream if event.context == "catalog" else f"{stream}.p0"
        sequence = self.sequences.get(key, 0) + 1
        self.sequences[key] = sequence
        envelope = Envelope(str(uuid.uuid4()), "/arc/test", event.event_type(), at)
        delivery = Delivery(stream, sequence, event.subject(), envelope, event, None, key)
        self.model.apply([delivery])
        if event.context == "catalog":
            self.catalog_told.append(delivery)
            for view in self.listeners:
                view.apply([delivery])
        return sequence

    def tell(self, view: RelationshipsView) -> None:
        """``view`` hears the catalog: what was told so far, then each new event."""
        view.apply(list(self.catalog_told))
        self.listeners.append(view)

    # --- catalog ---------------------------------------------------------------------------

    def outcome(
        self,
        outcome_id: str,
        code: str,
        tags: tuple[str, ...] = ("academic",),
        at: datetime = TERM_START,
    ) -> None:
        self.publish(
            OutcomeDefinedV1(
                outcome_id=outcome_id,
                code=code,
                statement=f"I can {code.lower()}",
                scale=FOUR,
                revision=1,
                tags=tags,
            ),
            at,
        )

    def person(self, person_id: str, role: str, given: str, family: str, **extra: object) -> None:
        self.publish(
            PersonDefinedV1(
                person_id=person_id,
                revision=1,
                role=role,
                given_name=given,
                family_name=family,
                **extra,  # type: ignore[arg-type]
            ),
            TERM_START - timedelta(days=30),
        )

    def course(
        self, course_id: str, title: str, outcomes: list[tuple[str, bool]], school: str = "sch-1"
    ) -> None:
        self.publish(
            CourseDefinedV1(
                course_id=course_id,
                revision=1,
                title=title,
                school_id=school,
                outcomes=tuple(CourseOutcomeV1(outcome_id=o, power=p) for o, p in outcomes),
            ),
            TERM_START - timedelta(days=20),
        )

    def section(
        self,
        section_id: str,
        course_id: str,
        students: list[str],
        teachers: tuple[str, ...] = ("t-ada",),
        revision: int = 1,
        at: datetime | None = None,
        school: str = "sch-1",
    ) -> None:
        self.publish(
            SectionDefinedV1(
                section_id=section_id,
                revision=revision,
                course_id=course_id,
                school_id=school,
                title=f"{course_id} {section_id}",
                teacher_ids=teachers,
                student_ids=tuple(students),
            ),
            at or TERM_START - timedelta(days=10),
        )

    def policy(
        self,
        course_id: str | None,
        bands: list[tuple[str, str, str | None]],
        academic: tuple[str, ...] = (),
        **params: str,
    ) -> None:
        self.publish(
            PolicyDefinedV1(
                policy_id=f"pol-{course_id or 'network'}",
                revision=1,
                scope="course" if course_id else "network",
                scope_id=course_id,
                method="most_recent",
                params=params,
                academic_outcome_tags=academic,
                report_card=tuple(
                    GradeBandV1(
                        minimum=Decimal(m), grade=g, percent=None if p is None else Decimal(p)
                    )
                    for m, g, p in bands
                ),
            ),
            TERM_START - timedelta(days=15),
        )

    def school(self, school_id: str, name: str) -> None:
        self.publish(
            OrgDefinedV1(org_id=school_id, revision=1, org_name=name, kind="school"),
            TERM_START - timedelta(days=40),
        )

    def network(self, labels: dict[str, str], name: str = "Riverside Schools") -> None:
        self.publish(
            NetworkSettingsDefinedV1(revision=1, network_name=name, labels=labels),
            TERM_START - timedelta(days=40),
        )

    # --- evidence and mastery --------------------------------------------------------------

    def record(
        self,
        student: str,
        outcome: str,
        score: int | str,
        assessed: datetime,
        recorded: datetime | None = None,
        **extra: object,
    ) -> str:
        """An attempt, and the level change ``most_recent`` gives (if the level changes)."""
        attempt_id = f"a-{uuid.uuid4().hex[:10]}"
        recorded = recorded or assessed
        value = Decimal(str(score))
        self.publish(
            AttemptRecordedV1(
                attempt_id=attempt_id,
                student_id=student,
                outcome_id=outcome,
                outcome_revision=1,
                scale=FOUR,
                score=value,
                assessed_at=assessed,
                recorded_at=recorded,
                recorded_by="t-ada",
                assessment_ref=f"quiz-{assessed:%m%d}",
                **extra,  # type: ignore[arg-type]
            ),
            recorded,
        )
        counts = extra.get("weight") != Decimal(0) and "practice" not in extra.get("tags", ())  # type: ignore[operator]
        if counts:
            self.change(
                student, outcome, value, recorded + timedelta(seconds=1), attempt_id, assessed
            )
        return attempt_id

    def change(
        self,
        student: str,
        outcome: str,
        value: Decimal | None,
        at: datetime,
        attempt_id: str | None = None,
        assessed: datetime | None = None,
        kind: str = "evidence",
    ) -> None:
        pair = (student, outcome)
        before = self.standing.get(pair)
        if before == value:
            return
        count = self.counts.get(pair, 0) + (1 if kind == "evidence" else -1)
        self.counts[pair] = count
        self.publish(
            MasteryChangedV1(
                student_id=student,
                outcome_id=outcome,
                before=_value(before, max(count - 1, 0)),
                after=_value(value, count),
                method="most_recent",
                cause=MasteryCauseV1(kind=kind, event_id=str(uuid.uuid4()), attempt_id=attempt_id),  # type: ignore[arg-type]
                assessed_at=assessed,
                recorded_at=at,
                changed_at=at,
            ),
            at,
        )
        if value is None:
            self.standing.pop(pair, None)
        else:
            self.standing[pair] = value

    def void(
        self, student: str, outcome: str, attempt_id: str, at: datetime, back_to: Decimal | None
    ) -> None:
        self.publish(
            AttemptVoidedV1(
                attempt_id=attempt_id,
                student_id=student,
                outcome_id=outcome,
                reason="entered for the wrong student",
                voided_by="t-ada",
                voided_at=at,
            ),
            at,
        )
        self.change(student, outcome, back_to, at + timedelta(seconds=1), attempt_id, None, "void")


def _value(value: Decimal | None, count: int) -> MasteryValueV1:
    if value is None:
        return MasteryValueV1(value=None, level=None, status="no_evidence", evidence_count=0)
    return MasteryValueV1(
        value=value,
        level=Decimal(int(value)),
        level_label=label_for(value),
        status=status_for(value),
        evidence_count=count,  # type: ignore[arg-type]
    )


def riverside(model: ReportingReadModel) -> Story:
    """Riverside Middle: Grade 6 Maths (three outcomes, two power, one habits-of-work) with
    Ada Lovelace teaching Maya, Noah and Zoe; Maya's mother Rosa is her guardian."""
    story = Story(model)
    story.school("sch-1", "Riverside Middle")
    story.outcome("ratios", "RP.1")
    story.outcome("fractions", "NS.1")
    story.outcome("persevere", "HW.1", tags=("habits-of-work",))
    story.course(
        "math-6", "Grade 6 Maths", [("ratios", True), ("fractions", True), ("persevere", False)]
    )
    story.policy(
        "math-6",
        [("3.5", "A", "95"), ("3", "B", "85"), ("2", "C", "75"), ("1", "D", "65")],
        academic=("academic",),
    )
    story.person("t-ada", "teacher", "Ada", "Lovelace")
    story.person("s-maya", "student", "Maya", "Garcia")
    story.person("s-noah", "student", "Noah", "Smith")
    story.person("s-zoe", "student", "Zoe", "Adams")
    story.person("g-rosa", "guardian", "Rosa", "Garcia", guardian_of=("s-maya",))
    story.section("sec-6a", "math-6", ["s-maya", "s-noah", "s-zoe"])
    return story


class SignedIn:
    """Reporting's app in-process behind the real access guard, trusting a dev issuer started
    here: ``headers(user)`` signs a demo user (or any ``DemoUser``) in."""

    def __init__(self, story: Story | None, model: ReportingReadModel, folder: Path) -> None:
        self.issuer = DevIssuerServer(folder / "dev-issuer").start()
        self.access = local_access(model.engine, self.issuer.url)
        if story is not None:
            assert isinstance(self.access.relationships, RelationshipsView)
            story.tell(self.access.relationships)

    def token(self, user: str | DemoUser = "admin") -> str:
        return self.issuer.issuer.token(user)

    def headers(self, user: str | DemoUser = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def stop(self) -> None:
        self.issuer.stop()
