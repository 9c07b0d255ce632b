"""An admin sets policies for the network, a course or an outcome; the nearest one applies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from arc_mastery.policies import PolicyRecord, outcomes_affected, resolve
from arc_mastery.rollups import course_rollup, parent_rollup
from arc_mastery.standing import NO_EVIDENCE, Level, Standing

T0 = datetime(2026, 9, 1, tzinfo=UTC)


def record(
    scope: str, scope_id: str | None, method: str, day: int = 0, revision: int = 1
) -> PolicyRecord:
    return PolicyRecord(
        f"{scope}-{scope_id}",
        revision,
        scope,
        scope_id,
        method,
        (),
        frozenset(),
        T0 + timedelta(days=day),
    )


RECORDS = [
    record("network", None, "decaying_average"),
    record("course", "math-6", "highest"),
    record("course", "art-6", "mean"),
    record("outcome", "rp.1", "most_recent"),
]


@pytest.mark.parametrize(
    ("outcome", "courses", "method"),
    [
        ("rp.1", ["math-6"], "most_recent"),
        ("ee.2", ["math-6"], "highest"),
        ("ee.2", ["math-6", "art-6"], "mean"),  # first course by id
        ("collab", [], "decaying_average"),
    ],
)
def test_outcome_then_course_then_network(outcome: str, courses: list[str], method: str) -> None:
    assert resolve(RECORDS, outcome, courses).method == method


def test_without_any_policy_the_default_is_most_recent() -> None:
    assert resolve([], "x", []).method == "most_recent"


def test_as_of_a_moment_the_policy_then_in_force_applies() -> None:
    history = [record("network", None, "mean", day=0), record("network", None, "highest", 10, 2)]
    assert resolve(history, "x", [], at=T0 + timedelta(days=5)).method == "mean"
    assert resolve(history, "x", []).method == "highest"


def test_what_a_policy_change_affects() -> None:
    courses = {"math-6": ["rp.1", "ee.2"]}
    assert outcomes_affected(record("outcome", "rp.1", "mean"), courses, ["rp.1", "x"]) == ["rp.1"]
    assert outcomes_affected(record("course", "math-6", "mean"), courses, []) == ["rp.1", "ee.2"]
    assert outcomes_affected(record("network", None, "mean"), courses, ["x", "rp.1"]) == [
        "rp.1",
        "x",
    ]


def standing(value: int, status: str) -> Standing:
    return Standing(Decimal(value), Level(Decimal(value), str(value)), status, 1)


def test_course_rollups() -> None:
    standings = {
        "a": standing(4, "mastered"),
        "b": standing(2, "approaching"),
        "c": standing(3, "mastered"),
    }
    mean = course_rollup("mean", standings, power=["a", "c"], mastery_threshold=Decimal(3))
    assert mean.value == Decimal(3) and mean.mastered and mean.counted == 3
    credit = course_rollup("all_power_mastered", standings, ["a", "c"], Decimal(3))
    assert credit.mastered and "2 of 2" in credit.explanation
    no_credit = course_rollup("all_power_mastered", standings, ["a", "b"], Decimal(3))
    assert not no_credit.mastered
    with pytest.raises(ValueError, match="unknown course roll-up"):
        course_rollup("median", standings, [], Decimal(3))


def test_parent_rollups() -> None:
    children = {"x": standing(4, "mastered"), "y": NO_EVIDENCE, "z": standing(3, "mastered")}
    assert not parent_rollup("all_children_mastered", children, Decimal(3)).mastered
    points = parent_rollup("points:2", children, Decimal(3))
    assert points.mastered and points.value == Decimal(2)
    mean = parent_rollup("mean", children, Decimal(3))
    assert mean.value == Decimal("3.50") and mean.mastered
