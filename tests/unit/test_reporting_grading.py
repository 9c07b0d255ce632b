"""A registrar converts course levels into report-card grades, exactly as the policy says."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arc_contracts import GradeBandV1, OutcomeDefinedV1, PolicyDefinedV1
from arc_reporting.domain.grading import (
    band_for,
    counts_toward_grade,
    course_grade,
    grade_lines,
    mean,
)
from arc_reporting.domain.records import NO_EVIDENCE, Standing
from tests.support.reporting import FOUR

BANDS = (
    GradeBandV1(minimum=Decimal("3.5"), grade="A", percent=Decimal(95)),
    GradeBandV1(minimum=Decimal("3"), grade="B", percent=Decimal(85)),
    GradeBandV1(minimum=Decimal("2"), grade="C", percent=Decimal(75)),
    GradeBandV1(minimum=Decimal("1"), grade="D", percent=Decimal(65)),
)


def policy(bands=BANDS, academic=("academic",), **params: str) -> PolicyDefinedV1:
    return PolicyDefinedV1(
        policy_id="p",
        revision=1,
        scope="course",
        scope_id="c",
        method="most_recent",
        params=params,
        academic_outcome_tags=academic,
        report_card=bands,
    )


def outcome(outcome_id: str, tags: tuple[str, ...] = ("academic",)) -> OutcomeDefinedV1:
    return OutcomeDefinedV1(
        outcome_id=outcome_id,
        code=outcome_id.upper(),
        statement="s",
        scale=FOUR,
        revision=1,
        tags=tags,
    )


def standing(value: str, status: str = "mastered") -> Standing:
    return Standing(status, Decimal(value), Decimal(int(Decimal(value))), "Meets")


@pytest.mark.parametrize(
    ("value", "grade"),
    [("4", "A"), ("3.5", "A"), ("3.49", "B"), ("3", "B"), ("2.99", "C"), ("1", "D")],
)
def test_a_value_earns_the_band_with_the_highest_minimum_at_or_below_it(
    value: str, grade: str
) -> None:
    band = band_for(Decimal(value), BANDS)
    assert band is not None and band.grade == grade


def test_below_every_band_there_is_no_band() -> None:
    assert band_for(Decimal("0.5"), BANDS) is None


def test_the_mean_rounds_half_away_from_zero_at_two_places() -> None:
    assert mean([Decimal(3), Decimal(3), Decimal("3.25")]) == Decimal("3.08")  # 9.25 / 3
    assert mean([Decimal("2.125"), Decimal("2.125")]) == Decimal("2.13")
    assert mean([]) is None


def test_only_outcomes_the_policy_counts_make_the_grade_and_habits_are_shown_beside_it() -> None:
    outcomes = [
        (outcome("ratios"), True),
        (outcome("fractions"), True),
        (outcome("persevere", ("habits-of-work",)), False),
    ]
    standings = {
        "ratios": standing("4"),
        "fractions": standing("3"),
        "persevere": standing("1", "not_yet"),
    }
    lines = grade_lines(outcomes, standings, policy())
    assert [(line.outcome_id, line.counted) for line in lines] == [
        ("ratios", True),
        ("fractions", True),
        ("persevere", False),
    ]
    assert "habits-of-work" in (lines[2].why_not_counted or "")
    grade = course_grade(lines, policy())
    assert (grade.value, grade.grade, grade.percent) == (Decimal("3.50"), "A", Decimal(95))
    assert grade.credit and grade.rule == "mean"


def test_outcomes_without_evidence_are_left_out_never_a_zero() -> None:
    outcomes = [(outcome("ratios"), True), (outcome("fractions"), True)]
    lines = grade_lines(outcomes, {"ratios": standing("3")}, policy())
    assert lines[1].standing == NO_EVIDENCE
    grade = course_grade(lines, policy())
    assert (grade.value, grade.grade) == (Decimal("3.00"), "B")
    assert "1 of 2 counted" in grade.explanation


def test_without_any_evidence_there_is_no_grade_yet() -> None:
    lines = grade_lines([(outcome("ratios"), True)], {}, policy())
    grade = course_grade(lines, policy())
    assert grade.value is None and grade.grade is None and not grade.credit


def test_an_empty_academic_list_counts_every_outcome() -> None:
    assert (
        counts_toward_grade(outcome("persevere", ("habits-of-work",)), policy(academic=())) is None
    )
    assert counts_toward_grade(outcome("persevere", ("habits-of-work",)), None) is None


def test_without_bands_the_grade_is_the_scale_label_of_the_value() -> None:
    lines = grade_lines(
        [(outcome("ratios"), True), (outcome("fractions"), False)],
        {"ratios": standing("3"), "fractions": standing("2", "approaching")},
        policy(bands=()),
    )
    grade = course_grade(
        lines,
        policy(bands=()),
        {Decimal(1): "Not yet", Decimal(2): "Approaching", Decimal(3): "Meets"},
    )
    assert (grade.value, grade.grade, grade.percent) == (Decimal("2.50"), "Approaching", None)


def test_all_power_mastered_gives_credit_only_when_every_counted_power_outcome_is_mastered() -> (
    None
):
    rule = policy(course_rollup="all_power_mastered")
    outcomes = [(outcome("ratios"), True), (outcome("fractions"), True), (outcome("stats"), False)]
    almost = {
        "ratios": standing("4"),
        "fractions": standing("2", "approaching"),
        "stats": standing("4"),
    }
    grade = course_grade(grade_lines(outcomes, almost, rule), rule)
    assert not grade.credit and grade.explanation == "1 of 2 power outcomes mastered"
    assert (grade.value, grade.grade) == (Decimal("3.33"), "B")  # the letter follows the mean
