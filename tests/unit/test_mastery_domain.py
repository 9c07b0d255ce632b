"""Mastery follows the evidence in the order the student showed it, not the order it arrived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from arc_contracts import MasteryChangedV1
from arc_mastery.domain import StudentOutcomeMastery
from arc_mastery.published import translate

DAY0 = datetime(2026, 9, 1, tzinfo=UTC)


def consider(mastery: StudentOutcomeMastery, attempt: str, score: int, day: int) -> bool:
    return mastery.consider(
        attempt_id=attempt,
        score=Decimal(score),
        assessed_at=DAY0 + timedelta(days=day),
        mastery_threshold=Decimal(3),
        traceparent="",
    )


def test_level_changes_are_recorded_only_when_the_level_moves() -> None:
    mastery = StudentOutcomeMastery(student_id="s", outcome_id="o")
    assert consider(mastery, "a1", 2, 1) is True
    assert consider(mastery, "a2", 2, 2) is False
    assert consider(mastery, "a3", 3, 3) is True
    assert mastery.level == 3 and mastery.mastered
    changes = [
        e for e in mastery.collect_events() if isinstance(e, StudentOutcomeMastery.LevelChanged)
    ]
    published = [translate(e) for e in changes]
    assert all(isinstance(p, MasteryChangedV1) for p in published)
    assert [(p.previous_level, p.level, p.evidence_count) for p in published] == [  # type: ignore[union-attr]
        (None, 2, 1),
        (2, 3, 3),
    ]


def test_late_evidence_of_an_older_assessment_does_not_become_most_recent() -> None:
    mastery = StudentOutcomeMastery(student_id="s", outcome_id="o")
    consider(mastery, "recent", 4, 10)
    assert consider(mastery, "late-entry-of-older-test", 1, 2) is False
    assert mastery.level == 4
    assert mastery.attempt_ids == ["recent", "late-entry-of-older-test"]


def test_same_day_ties_keep_arrival_order() -> None:
    mastery = StudentOutcomeMastery(student_id="s", outcome_id="o")
    consider(mastery, "first", 2, 1)
    consider(mastery, "second", 4, 1)
    assert mastery.level == 4
