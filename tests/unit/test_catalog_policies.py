"""A network sets how mastery is calculated; a course or an outcome may override it. The
report card converts values to grades, and only academic outcomes count toward the grade."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from arc_catalog.domain.policies import (
    DEFAULT_NETWORK_POLICY,
    METHODS,
    GradeBand,
    Policy,
    counts_toward_academic,
    method_problems,
    policy_id,
    policy_problems,
    report_grade,
    resolve_policy,
)

LETTERS = (
    GradeBand(D("3.5"), "A", D(95)),
    GradeBand(D("2.5"), "B", D(85)),
    GradeBand(D("1.5"), "C", D(75)),
    GradeBand(D(0), "D", D(65)),
)


def network(method: str = "decaying_average", **extra: object) -> Policy:
    return Policy("network", None, method, {"w": "0.65"} if "average" in method else {}, **extra)  # type: ignore[arg-type]


def course(method: str = "mean", course_id: str = "alg-1", **extra: object) -> Policy:
    return Policy("course", course_id, method, **extra)  # type: ignore[arg-type]


def outcome(method: str = "highest", outcome_id: str = "math.1") -> Policy:
    return Policy("outcome", outcome_id, method)


def test_every_method_of_the_mastery_service_is_known() -> None:
    assert set(METHODS) == {
        "most_recent",
        "highest",
        "mean",
        "median",
        "mode",
        "weighted_average",
        "decaying_average",
        "n_mastery",
        "power_law",
        "assessment_weighted",
        "windowed_mean",
        "windowed_median",
        "windowed_mode",
        "windowed_highest",
        "true_score_estimate",
    }


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("most_recent", {}),
        ("decaying_average", {}),
        ("decaying_average", {"w": "0.65"}),
        ("weighted_average", {"w": "0.5"}),
        ("n_mastery", {"n": "3"}),
        ("windowed_mean", {"k": "4"}),
        ("true_score_estimate", {}),
    ],
)
def test_a_known_method_with_good_parameters_passes(method: str, params: dict[str, str]) -> None:
    assert method_problems(method, params) == []


@pytest.mark.parametrize(
    ("method", "params", "field", "says"),
    [
        ("average", {}, "method", "unknown method 'average'"),
        ("decaying_average", {"w": "1"}, "params.w", "'1' is not a number between 0 and 1"),
        ("decaying_average", {"w": "0"}, "params.w", "between 0 and 1"),
        ("decaying_average", {"w": "a lot"}, "params.w", "between 0 and 1"),
        ("decaying_average", {"w": "NaN"}, "params.w", "between 0 and 1"),
        ("n_mastery", {}, "params.n", "n_mastery needs it"),
        ("n_mastery", {"n": "2.5"}, "params.n", "whole number"),
        ("n_mastery", {"n": "0"}, "params.n", "whole number"),
        ("windowed_mode", {}, "params.k", "windowed_mode needs it"),
        ("mean", {"w": "0.5"}, "params.w", "mean takes no parameter 'w'"),
    ],
)
def test_a_bad_method_or_parameter_is_named(
    method: str, params: dict[str, str], field: str, says: str
) -> None:
    problems = method_problems(method, params)
    assert [p.field for p in problems] == [field]
    assert says in problems[0].description


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (Policy("network", "x", "mean"), "scope_id"),
        (Policy("course", None, "mean"), "scope_id"),
        (Policy("school", "x", "mean"), "scope"),  # type: ignore[arg-type]
        (Policy("outcome", "m.1", "mean", report_card=LETTERS), "report_card"),
        (
            Policy("outcome", "m.1", "mean", academic_outcome_tags=("academic",)),
            "academic_outcome_tags",
        ),
        (
            Policy("network", None, "mean", excluded_evidence_tags=(" ",)),
            "excluded_evidence_tags[0]",
        ),
        (Policy("network", None, "mean", report_card=tuple(reversed(LETTERS))), "report_card"),
        (
            Policy(
                "network", None, "mean", report_card=(GradeBand(D(3), "A"), GradeBand(D(2), "A"))
            ),
            "report_card",
        ),
        (
            Policy("network", None, "mean", report_card=(GradeBand(D(3), " "),)),
            "report_card[0].grade",
        ),
        (
            Policy("network", None, "mean", report_card=(GradeBand(D(3), "A", D(120)),)),
            "report_card[0].percent",
        ),
    ],
)
def test_a_broken_policy_names_the_field_at_fault(policy: Policy, field: str) -> None:
    assert field in [p.field for p in policy_problems(policy)]


def test_a_complete_network_policy_passes() -> None:
    policy = network(
        excluded_evidence_tags=("self-assessment", "practice"),
        academic_outcome_tags=("academic",),
        report_card=LETTERS,
    )
    assert policy_problems(policy) == []


def test_policy_ids_are_one_per_scope() -> None:
    assert policy_id("network", None) == "network"
    assert policy_id("course", "alg-1") == "course:alg-1"
    assert policy_id("outcome", "math.1") == "outcome:math.1"


def test_with_no_policy_at_all_the_default_applies() -> None:
    effective = resolve_policy(None)
    assert (effective.method, effective.method_from) == (DEFAULT_NETWORK_POLICY.method, "default")
    assert effective.report_card == () and effective.academic_outcome_tags == ()


def test_the_network_policy_applies_where_nothing_overrides_it() -> None:
    effective = resolve_policy(network(report_card=LETTERS, academic_outcome_tags=("academic",)))
    assert (effective.method, dict(effective.params)) == ("decaying_average", {"w": "0.65"})
    assert effective.method_from == "network"
    assert effective.report_card == LETTERS and effective.report_card_from == "network"
    assert effective.academic_tags_from == "network"


def test_a_course_overrides_the_network_and_an_outcome_overrides_both() -> None:
    assert resolve_policy(network(), course()).method == "mean"
    resolved = resolve_policy(network(), course(), outcome())
    assert (resolved.method, resolved.method_from) == ("highest", "outcome:math.1")
    assert resolve_policy(network(), None, outcome()).method == "highest"


def test_the_calculation_is_taken_whole_from_the_policy_that_wins() -> None:
    """Parameters and excluded tags come with the method: a course's mean never inherits the
    network's w, nor its excluded tags."""
    resolved = resolve_policy(network(excluded_evidence_tags=("practice",)), course())
    assert dict(resolved.params) == {} and resolved.excluded_evidence_tags == ()


def test_report_card_and_academic_tags_come_from_the_course_else_the_network() -> None:
    course_card = (GradeBand(D(3), "Pass"), GradeBand(D(0), "Not yet"))
    with_card = resolve_policy(
        network(report_card=LETTERS, academic_outcome_tags=("academic",)),
        course(report_card=course_card),
        outcome(),
    )
    assert with_card.report_card == course_card and with_card.report_card_from == "course:alg-1"
    assert with_card.academic_outcome_tags == ("academic",)
    assert with_card.academic_tags_from == "network"
    without = resolve_policy(network(report_card=LETTERS), course())
    assert without.report_card == LETTERS and without.report_card_from == "network"


def test_a_retired_override_no_longer_applies() -> None:
    retired = Policy("course", "alg-1", "mean", retired=True)
    resolved = resolve_policy(network(), retired)
    assert (resolved.method, resolved.method_from) == ("decaying_average", "network")


@pytest.mark.parametrize(
    ("value", "grade", "percent"),
    [
        ("4", "A", "95"),
        ("3.5", "A", "95"),
        ("3.49", "B", "85"),
        ("1.5", "C", "75"),
        ("0", "D", "65"),
    ],
)
def test_report_card_conversion_takes_the_highest_band_reached(
    value: str, grade: str, percent: str
) -> None:
    band = report_grade(LETTERS, D(value))
    assert band is not None and (band.grade, band.percent) == (grade, D(percent))


def test_a_value_below_every_band_gets_no_grade() -> None:
    assert report_grade((GradeBand(D(1), "Pass"),), D("0.5")) is None


def test_only_outcomes_with_an_academic_tag_count_when_the_policy_names_some() -> None:
    assert counts_toward_academic(("academic", "math"), ("academic",))
    assert not counts_toward_academic(("habits-of-work",), ("academic",))
    assert counts_toward_academic(("habits-of-work",), ())
    assert not counts_toward_academic((), ("academic",))
