"""A teacher records attempts; bad input is refused with every field at fault named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from arc_contracts import AttemptRecordedV1, ProficiencyScaleV1
from arc_evidence.application import EvidenceApplication, RejectedAttempt
from arc_evidence.domain import KnownOutcome, check_attempt
from arc_evidence.published import translate

NOW = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)
SCALE = ProficiencyScaleV1.model_validate(
    {
        "name": "1-4",
        "levels": [{"value": v, "label": f"L{v}"} for v in (1, 2, 3, 4)],
        "mastery_threshold": 3,
    }
)
OUTCOME = KnownOutcome("sci.1", 2, SCALE)


def check(**overrides: object) -> list[tuple[str, str]]:
    values: dict[str, object] = {
        "student_id": "stu-1",
        "outcome_id": "sci.1",
        "outcome": OUTCOME,
        "score": Decimal(3),
        "assessed_at": NOW - timedelta(days=1),
        "recorded_by": "teacher-ada",
        "now": NOW,
    } | overrides
    return [(v.field, v.description) for v in check_attempt(**values)]  # type: ignore[arg-type]


def test_a_valid_attempt_has_no_violations() -> None:
    assert check() == []
    assert check(score=Decimal("3.0")) == []


def test_unknown_outcome() -> None:
    assert check(outcome=None, outcome_id="nope") == [("outcome_id", "unknown outcome 'nope'")]


@pytest.mark.parametrize("score", ["0", "5", "2.5", "-1"])
def test_score_off_the_scale(score: str) -> None:
    [(field, description)] = check(score=Decimal(score))
    assert field == "score" and "1, 2, 3, 4" in description


def test_assessed_in_the_future_beyond_clock_skew() -> None:
    assert check(assessed_at=NOW + timedelta(minutes=4)) == []
    [(field, _)] = check(assessed_at=NOW + timedelta(hours=1))
    assert field == "assessed_at"


def test_every_violation_is_reported_at_once() -> None:
    fields = [
        f for f, _ in check(student_id=" ", recorded_by="", score=Decimal(9), assessed_at=None)
    ]
    assert fields == ["student_id", "recorded_by", "score", "assessed_at"]


def test_recorded_attempts_are_published_with_the_scale_they_were_scored_against() -> None:
    app = EvidenceApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    recorded = app.record_attempt(
        student_id="stu-1",
        outcome_id="sci.1",
        outcome=OUTCOME,
        score=Decimal("3.0"),
        assessed_at=NOW,
        recorded_by=" teacher-ada ",
        now=NOW,
    )
    [event] = app.attempts_of("stu-1")
    published = translate(event)
    assert isinstance(published, AttemptRecordedV1)
    assert published.attempt_id == recorded.attempt_id
    assert published.score == Decimal(3) and str(published.score) == "3"
    assert published.outcome_revision == 2 and published.scale == SCALE
    assert published.recorded_by == "teacher-ada"


def test_a_rejected_attempt_records_nothing() -> None:
    app = EvidenceApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    with pytest.raises(RejectedAttempt, match="score"):
        app.record_attempt(
            student_id="stu-1",
            outcome_id="sci.1",
            outcome=OUTCOME,
            score=Decimal(7),
            assessed_at=NOW,
            recorded_by="t",
            now=NOW,
        )
    assert app.recorder.max_notification_id() is None
