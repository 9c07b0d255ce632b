"""Which evidence counts toward a student's standing, in which order, and what the standing is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from arc_mastery.standing import (
    Evidence,
    Level,
    Policy,
    Scale,
    assessed_by,
    explain,
    known_at,
    sort_evidence,
)

DAY0 = datetime(2026, 9, 1, 9, tzinfo=UTC)
FOUR_POINT = Scale(
    levels=tuple(
        Level(Decimal(v), label)
        for v, label in [(1, "Not yet"), (2, "Approaching"), (3, "Meets"), (4, "Exceeds")]
    ),
    minimum=Decimal(1),
    maximum=Decimal(4),
    mastery_threshold=Decimal(3),
)


def attempt(name: str, score: int | None, day: int, **extra: object) -> Evidence:
    values: dict[str, object] = {
        "attempt_id": name,
        "status": "scored" if score is not None else "missing",
        "score": None if score is None else Decimal(score),
        "assessed_at": DAY0 + timedelta(days=day),
        "recorded_at": DAY0 + timedelta(days=day, hours=1),
    } | extra
    return Evidence(**values)  # type: ignore[arg-type]


def test_no_evidence_is_a_status_never_zero() -> None:
    explanation = explain([], Policy(), FOUR_POINT)
    assert explanation.standing.value is None
    assert explanation.standing.status == "no_evidence"


def test_order_is_assessed_then_recorded_then_attempt_id() -> None:
    same_day = DAY0 + timedelta(days=3)
    later_recorded = attempt("a", 2, 3, recorded_at=same_day + timedelta(hours=5))
    earlier_recorded = attempt("z", 3, 3, recorded_at=same_day + timedelta(hours=1))
    tie_b = attempt("b", 4, 3, recorded_at=same_day + timedelta(hours=5))
    ordered = sort_evidence([tie_b, later_recorded, earlier_recorded, attempt("x", 1, 1)])
    assert [e.attempt_id for e in ordered] == ["x", "z", "a", "b"]


def test_late_evidence_of_an_earlier_assessment_takes_its_place_in_time() -> None:
    items = [
        attempt("recent", 4, 10),
        attempt("late-entry", 1, 2, recorded_at=DAY0 + timedelta(days=11)),
    ]
    standing = explain(items, Policy(method="most_recent"), FOUR_POINT).standing
    assert standing.value == Decimal(4) and standing.status == "mastered"


@pytest.mark.parametrize(
    ("evidence", "reason"),
    [
        (
            attempt("v", 4, 2, voided_at=DAY0 + timedelta(days=5), void_reason="wrong student"),
            "voided: wrong student",
        ),
        (attempt("e", None, 2, status="excused"), "excused"),
        (attempt("m", None, 2), "missing"),
        (attempt("s", 4, 2, kind="self_assessment"), "self_assessment"),
        (attempt("p", 4, 2, tags=frozenset({"practice"})), "practice"),
        (attempt("f", 4, 2, weight=Decimal(0)), "formative"),
    ],
)
def test_excluded_evidence_is_shown_with_its_reason_and_not_counted(
    evidence: Evidence, reason: str
) -> None:
    policy = Policy(excluded_evidence_tags=frozenset({"self_assessment", "practice"}))
    explanation = explain([attempt("counted", 2, 1), evidence], policy, FOUR_POINT)
    assert [c.evidence.attempt_id for c in explanation.counted] == ["counted"]
    [excluded] = explanation.excluded
    assert excluded.evidence.attempt_id == evidence.attempt_id and reason in excluded.reason
    assert explanation.standing.value == Decimal(2)


def test_a_real_zero_counts() -> None:
    scale = Scale(
        (Level(Decimal(0), "None"), Level(Decimal(4), "All")), Decimal(0), Decimal(4), Decimal(3)
    )
    explanation = explain([attempt("z", 0, 1)], Policy(method="mean"), scale)
    assert explanation.standing.value == Decimal(0) and explanation.standing.status == "not_yet"
    assert explanation.standing.evidence_count == 1


def test_a_superseding_attempt_replaces_the_original() -> None:
    items = [attempt("original", 1, 1), attempt("corrected", 3, 1, supersedes="original")]
    explanation = explain(items, Policy(method="mean"), FOUR_POINT)
    assert [c.evidence.attempt_id for c in explanation.counted] == ["corrected"]
    assert "superseded by corrected" in explanation.excluded[0].reason


@pytest.mark.parametrize(
    ("scores", "status", "label"),
    [
        ([1], "not_yet", "Not yet"),
        ([2], "approaching", "Approaching"),
        ([2, 4], "mastered", "Meets"),
        ([4], "mastered", "Exceeds"),
    ],
)
def test_level_is_the_highest_at_or_below_the_value(
    scores: list[int], status: str, label: str
) -> None:
    items = [attempt(f"a{n}", s, n) for n, s in enumerate(scores)]
    standing = explain(items, Policy(method="mean"), FOUR_POINT).standing
    assert standing.status == status and standing.level is not None
    assert standing.level.label == label


def test_a_mode_tie_needs_teacher_judgment() -> None:
    items = [attempt("a", 2, 1), attempt("b", 3, 2)]
    standing = explain(items, Policy(method="mode"), FOUR_POINT).standing
    assert standing.status == "needs_judgment" and standing.value is None


def test_as_known_at_ignores_later_records_and_later_voids() -> None:
    void_time = DAY0 + timedelta(days=20)
    items = [
        attempt("a", 2, 1),
        attempt("b", 4, 5, voided_at=void_time, void_reason="typo"),
        attempt("c", 3, 2, recorded_at=DAY0 + timedelta(days=30)),
    ]
    then = known_at(items, DAY0 + timedelta(days=10))
    assert [e.attempt_id for e in then] == ["a", "b"] and then[1].voided_at is None
    assert explain(then, Policy(), FOUR_POINT).standing.value == Decimal(4)
    by_day3 = assessed_by(items, DAY0 + timedelta(days=3))
    assert [e.attempt_id for e in by_day3] == ["a", "c"]
    assert explain(by_day3, Policy(), FOUR_POINT).standing.value == Decimal(3)


def test_numeric_scale_without_levels_has_no_level_but_a_status() -> None:
    percent = Scale((), Decimal(0), Decimal(100), Decimal(80))
    items = [attempt("a", 70, 1), attempt("b", 90, 2)]
    standing = explain(items, Policy(method="mean"), percent).standing
    assert (
        standing.value == Decimal(80) and standing.status == "mastered" and standing.level is None
    )
    assert (
        explain([attempt("a", 45, 1)], Policy(method="mean"), percent).standing.status
        == "approaching"
    )
