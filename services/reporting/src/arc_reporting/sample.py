"""A generated class (for the benchmark and for looking at the pages): one course of
``outcomes`` outcomes, one section of ``students`` students, and ``attempts`` attempts per
student over a term, fed to a read model as the events the other services would publish
(mastery changes as ``most_recent`` gives them)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

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
    OrgDefinedV1,
    OutcomeDefinedV1,
    PersonDefinedV1,
    PolicyDefinedV1,
    ProficiencyScaleV1,
    SectionDefinedV1,
)
from arc_platform.consumer import Delivery
from arc_reporting.read_model import ReportingReadModel

SCALE = ProficiencyScaleV1.model_validate(
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
LABELS = {1: "Not yet", 2: "Approaching", 3: "Meets", 4: "Exceeds"}
GIVEN = ["Maya", "Noah", "Zoe", "Liam", "Ava", "Omar", "Ines", "Kai", "Lena", "Ravi", "Sara", "Tom"]
FAMILY = ["Garcia", "Smith", "Adams", "Nguyen", "Okafor", "Kowalski", "Haddad", "Silva", "Chen"]


def _status(value: int) -> str:
    return "mastered" if value >= 3 else "approaching" if value == 2 else "not_yet"


@dataclass
class Feeder:
    """Batches per stream, as the consumers would (the read model does not depend on the
    order between streams)."""

    model: ReportingReadModel
    batches: dict[str, list[Delivery]] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sequences = dict(self.model.view.positions())  # go on from where the model is

    def add(self, event: ContractEvent, at: datetime) -> None:
        stream = f"ARC_{event.context.upper()}"
        key = stream if event.context == "catalog" else f"{stream}.p0"
        sequence = self.sequences.get(key, 0) + 1
        self.sequences[key] = sequence
        envelope = Envelope(str(uuid.uuid4()), "/arc/sample", event.event_type(), at)
        batch = self.batches.setdefault(key, [])
        batch.append(Delivery(stream, sequence, event.subject(), envelope, event, None, key))
        if len(batch) >= 1000:
            self.flush()

    def flush(self) -> None:
        for key in sorted(self.batches):  # the catalog first
            if self.batches[key]:
                self.model.apply(self.batches[key])
        self.batches = {}


def feed_class(
    model: ReportingReadModel,
    students: int = 35,
    outcomes: int = 60,
    attempts: int = 20,
    start: datetime | None = None,
    seed: int = 7,
    student_prefix: str = "stu",
    section_id: str = "sec-6a",
) -> dict[str, str]:
    """Returns the ids of what was made (section, course, school, a student, a guardian)."""
    rng = random.Random(seed)
    start = start or datetime(2026, 9, 1, 9, tzinfo=UTC)
    before = start - timedelta(days=14)
    feed = Feeder(model)
    feed.add(
        OrgDefinedV1(org_id="sch-1", revision=1, org_name="Riverside Middle", kind="school"), before
    )
    outcome_ids = [f"math.{n:02d}" for n in range(1, outcomes + 1)]
    for n, outcome_id in enumerate(outcome_ids):
        feed.add(
            OutcomeDefinedV1(
                outcome_id=outcome_id,
                code=f"M.{n + 1:02d}",
                statement=f"I can solve problems of kind {n + 1}",
                scale=SCALE,
                revision=1,
                tags=("habits-of-work",) if n % 10 == 9 else ("academic",),
            ),
            before,
        )
    feed.add(
        CourseDefinedV1(
            course_id="math-6",
            revision=1,
            title="Grade 6 Maths",
            school_id="sch-1",
            outcomes=tuple(
                CourseOutcomeV1(outcome_id=o, power=n % 5 == 0) for n, o in enumerate(outcome_ids)
            ),
        ),
        before,
    )
    feed.add(
        PolicyDefinedV1(
            policy_id="pol-math-6",
            revision=1,
            scope="course",
            scope_id="math-6",
            method="most_recent",
            academic_outcome_tags=("academic",),
            report_card=tuple(
                GradeBandV1(minimum=Decimal(m), grade=g, percent=Decimal(p))
                for m, g, p in (("3.5", "A", 95), ("3", "B", 85), ("2", "C", 75), ("1", "D", 65))
            ),
        ),
        before,
    )
    feed.add(
        PersonDefinedV1(
            person_id="t-ada", revision=1, role="teacher", given_name="Ada", family_name="Lovelace"
        ),
        before,
    )
    student_ids = [f"{student_prefix}-{n:03d}" for n in range(1, students + 1)]
    for n, student_id in enumerate(student_ids):
        given, family = GIVEN[n % len(GIVEN)], FAMILY[(n * 7) % len(FAMILY)]
        feed.add(
            PersonDefinedV1(
                person_id=student_id,
                revision=1,
                role="student",
                given_name=given,
                family_name=family,
            ),
            before,
        )
    feed.add(
        PersonDefinedV1(
            person_id="g-001",
            revision=1,
            role="guardian",
            given_name="Rosa",
            family_name=FAMILY[0],
            guardian_of=(student_ids[0],),
        ),
        before,
    )
    feed.add(
        SectionDefinedV1(
            section_id=section_id,
            revision=1,
            course_id="math-6",
            school_id="sch-1",
            title=f"{section_id.upper()} Maths",
            teacher_ids=("t-ada",),
            student_ids=tuple(student_ids),
        ),
        before,
    )
    feed.flush()
    for student_id in student_ids:
        _attempts(feed, rng, student_id, outcome_ids, attempts, start)
    feed.flush()
    return {
        "section": "sec-6a",
        "course": "math-6",
        "school": "sch-1",
        "student": student_ids[0],
        "guardian": "g-001",
    }


def _attempts(
    feed: Feeder, rng: random.Random, student: str, outcomes: list[str], count: int, start: datetime
) -> None:
    ability = rng.uniform(1.2, 3.4)
    level: dict[str, int] = {}
    evidence: dict[str, int] = {}
    for n in range(count):
        outcome = outcomes[rng.randrange(len(outcomes))]
        when = start + timedelta(days=n * 84 / max(count, 1), hours=rng.randint(0, 8))
        score = max(1, min(4, round(ability + n / max(count, 1) + rng.uniform(-1, 1))))
        attempt_id = f"att-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}"
        feed.add(
            AttemptRecordedV1(
                attempt_id=attempt_id,
                student_id=student,
                outcome_id=outcome,
                outcome_revision=1,
                scale=SCALE,
                score=Decimal(score),
                assessed_at=when,
                recorded_at=when,
                recorded_by="t-ada",
                assessment_ref=f"task {n + 1}",
            ),
            when,
        )
        voided = rng.random() < 0.03
        if voided:
            feed.add(
                AttemptVoidedV1(
                    attempt_id=attempt_id,
                    student_id=student,
                    outcome_id=outcome,
                    reason="recorded for the wrong student",
                    voided_by="t-ada",
                    voided_at=when + timedelta(hours=1),
                ),
                when + timedelta(hours=1),
            )
            continue
        before = level.get(outcome)
        if before == score:
            continue
        evidence[outcome] = evidence.get(outcome, 0) + 1
        feed.add(
            MasteryChangedV1(
                student_id=student,
                outcome_id=outcome,
                before=MasteryValueV1(value=None, level=None, status="no_evidence")
                if before is None
                else MasteryValueV1(
                    value=Decimal(before),
                    level=Decimal(before),
                    level_label=LABELS[before],
                    status=_status(before),
                    evidence_count=evidence[outcome] - 1,
                ),  # type: ignore[arg-type]
                after=MasteryValueV1(
                    value=Decimal(score),
                    level=Decimal(score),
                    level_label=LABELS[score],
                    status=_status(score),
                    evidence_count=evidence[outcome],
                ),  # type: ignore[arg-type]
                method="most_recent",
                cause=MasteryCauseV1(
                    kind="evidence", event_id=str(uuid.uuid4()), attempt_id=attempt_id
                ),
                assessed_at=when,
                recorded_at=when,
                changed_at=when + timedelta(seconds=1),
            ),
            when + timedelta(seconds=1),
        )
        level[outcome] = score
