"""A network leader follows mastery over time and spots outcomes where students are stuck."""

from __future__ import annotations

from decimal import Decimal

import pytest

from arc_contracts import NetworkSettingsDefinedV1
from arc_reporting.domain.asof import BadField
from arc_reporting.domain.distribution import (
    distribution,
    moments,
    statuses_over_time,
    stuck_outcomes,
)
from arc_reporting.domain.records import Change
from arc_reporting.domain.vocabulary import Vocabulary
from tests.support.reporting import day


def change(student: str, n: int, status: str, seq: int) -> Change:
    return Change(
        student,
        "o",
        seq,
        None,
        None,
        "no_evidence",
        Decimal(2),
        Decimal(2),
        "L",
        status,
        1,
        "m",
        "evidence",
        None,
        day(n),
        day(n),
    )


def test_moments_step_back_from_the_end_by_the_interval() -> None:
    assert moments(day(0), day(14), "week") == [day(0), day(7), day(14)]
    assert moments(day(1), day(14), "week") == [day(7), day(14)]
    for field, args in (("interval", (day(0), day(7), "year")), ("from", (day(7), day(7), "week"))):
        with pytest.raises(BadField) as raised:
            moments(*args)  # type: ignore[arg-type]
        assert raised.value.field == field


def test_pairs_without_evidence_count_as_no_evidence_at_every_moment() -> None:
    changes = [
        change("a", 2, "not_yet", 1),
        change("a", 9, "mastered", 2),
        change("b", 8, "approaching", 3),
    ]
    series = statuses_over_time(
        [("a", "o"), ("b", "o"), ("c", "o")], changes, [day(0), day(7), day(14)]
    )
    assert [d.counts["no_evidence"] for d in series] == [3, 2, 1]
    assert [d.counts["mastered"] for d in series] == [0, 0, 1]
    assert series[1].counts["not_yet"] == 1 and series[2].counts["approaching"] == 1
    assert all(d.total == 3 for d in series)


def test_shares_of_a_distribution() -> None:
    found = distribution(["mastered", "mastered", "not_yet", "no_evidence"])
    assert found.share("mastered") == 0.5 and found.total == 4
    assert distribution([]).share("mastered") == 0.0


def test_an_outcome_is_stuck_when_enough_students_and_a_large_enough_share_are() -> None:
    found = stuck_outcomes({"o1": (3, 6), "o2": (2, 3), "o3": (5, 20), "o4": (4, 5)}, 0.3, 3)
    assert [(s.outcome_id, round(s.share, 2)) for s in found] == [("o4", 0.8), ("o1", 0.5)]


def test_a_network_names_its_outcomes_its_own_way() -> None:
    network = NetworkSettingsDefinedV1(
        revision=1, network_name="Riverside", labels={"outcome": "competency"}
    )
    words = Vocabulary.of(network, "outcome", None)
    assert (words.outcome, words.outcomes, words.network_name) == (
        "competency",
        "competencies",
        "Riverside",
    )
    assert Vocabulary.of(None, "standard", None).outcomes == "standards"
    assert Vocabulary.of(None, "outcome", "learning targets").outcomes == "learning targets"
    both = NetworkSettingsDefinedV1(
        revision=2, network_name="R", labels={"outcome": "skill", "outcomes": "skill set"}
    )
    assert Vocabulary.of(both, "outcome", None).outcomes == "skill set"
