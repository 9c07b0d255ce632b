"""What a teacher is told when an attempt cannot be recorded: every field at fault, named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from arc_evidence.rules import (
    AttemptDraft,
    Checks,
    KnownSection,
    ScoreEntry,
    check_draft,
    normal_tags,
    plan_batch,
)
from tests.support.evidence import PERCENT, FakeCatalog

NOW = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)
CATALOG = FakeCatalog()
CATALOG.define("sci.1")
CATALOG.define("pct.1", PERCENT)
CATALOG.define("old.1", retired=True)
CATALOG.people["stu-1"] = ("student", True)


def check(*entries: ScoreEntry, roster: bool = False, **overrides: Any) -> list[tuple[Any, ...]]:
    values: dict[str, Any] = {
        "student_id": "stu-1",
        "entries": entries or (ScoreEntry("sci.1", Decimal(3)),),
        "assessed_at": NOW - timedelta(days=1),
        "recorded_by": "teacher-ada",
    } | overrides
    found = check_draft(AttemptDraft(**values), Checks(CATALOG, NOW, roster))
    return [(p.entry, p.field, p.description) for p in found]


def test_a_valid_attempt_has_no_problems() -> None:
    assert check() == []
    assert check(ScoreEntry("sci.1", Decimal("3.0")), ScoreEntry("pct.1", Decimal("99.5"))) == []


def test_unknown_and_retired_outcomes() -> None:
    assert check(ScoreEntry("nope", Decimal(3))) == [(0, "outcome_id", "unknown outcome 'nope'")]
    assert check(ScoreEntry("old.1", Decimal(3))) == [
        (0, "outcome_id", "outcome 'old.1' is retired")
    ]
    assert check(ScoreEntry(" ", Decimal(3))) == [(0, "outcome_id", "must not be empty")]


def test_an_item_names_each_outcome_once() -> None:
    twice = check(ScoreEntry("sci.1", Decimal(3)), ScoreEntry("sci.1", Decimal(2)))
    assert twice == [(1, "outcome_id", "outcome 'sci.1' appears twice in this item")]


@pytest.mark.parametrize(
    ("outcome", "score", "description"),
    [
        ("sci.1", "5", "5 is not on the scale of 'sci.1' (1, 2, 3, 4)"),
        ("sci.1", "2.5", "2.5 is not on the scale of 'sci.1' (1, 2, 3, 4)"),
        ("pct.1", "100.5", "100.5 is not on the scale of 'pct.1' 0 to 100 in steps of 0.5"),
        ("pct.1", "33.3", "33.3 is not on the scale of 'pct.1' 0 to 100 in steps of 0.5"),
    ],
)
def test_score_off_the_scale(outcome: str, score: str, description: str) -> None:
    assert check(ScoreEntry(outcome, Decimal(score))) == [(0, "score", description)]


def test_status_and_score_must_agree() -> None:
    assert check(ScoreEntry("sci.1", None)) == [(0, "score", "is required for a scored attempt")]
    assert check(ScoreEntry("sci.1", None, "excused")) == []
    assert check(ScoreEntry("sci.1", Decimal(0), "excused")) == [
        (0, "score", "must be empty when the status is excused")
    ]
    [(_, field, description)] = check(ScoreEntry("sci.1", None, "late"))
    assert field == "status" and "scored, excused, missing" in description


def test_assessed_in_the_future_beyond_clock_skew() -> None:
    assert check(assessed_at=NOW + timedelta(minutes=4)) == []
    [(_, field, description)] = check(assessed_at=NOW + timedelta(hours=1))
    assert field == "assessed_at" and description.endswith("is in the future")
    assert check(assessed_at=None) == [(None, "assessed_at", "is required")]
    assert check(assessed_at=datetime(2026, 9, 1)) == [(None, "assessed_at", "needs a time zone")]


def test_evidence_may_be_recorded_long_after_it_was_shown() -> None:
    assert check(assessed_at=NOW - timedelta(days=400)) == []


def test_details_are_checked() -> None:
    found = check(
        assessment_kind="quiz",
        weight=Decimal(-1),
        tags=("ok", " ", "x" * 65),
        artifact_url="file:///etc/passwd",
        comment="c" * 10_001,
        assessment_ref="r" * 501,
    )
    assert [field for _, field, _ in found] == [
        "assessment_kind",
        "assessment_ref",
        "weight",
        "tags[1]",
        "tags[2]",
        "comment",
        "artifact_url",
    ]


def test_every_problem_is_reported_at_once() -> None:
    found = check(
        ScoreEntry("sci.1", Decimal(9)),
        ScoreEntry("nope", Decimal(1)),
        student_id=" ",
        recorded_by="",
        assessed_at=None,
    )
    assert [(entry, field) for entry, field, _ in found] == [
        (None, "student_id"),
        (None, "recorded_by"),
        (0, "score"),
        (1, "outcome_id"),
        (None, "assessed_at"),
    ]


def test_an_item_needs_an_outcome() -> None:
    assert check(entries=()) == [(None, "scores", "at least one outcome score is required")]


def test_roster_checking_names_the_student() -> None:
    assert check(student_id="stu-9") == []
    assert check(student_id="stu-9", roster=True) == [
        (None, "student_id", "unknown student 'stu-9'")
    ]


def test_a_batch_reports_rows_and_refuses_the_same_student_and_outcome_twice() -> None:
    section = KnownSection("6a", 1, frozenset({"stu-1", "stu-2"}))
    checks = Checks(CATALOG, NOW, section=section)
    good = AttemptDraft("stu-1", (ScoreEntry("sci.1", Decimal(3)),), NOW, "t")
    outsider = AttemptDraft("stu-3", (ScoreEntry("sci.1", Decimal(3)),), NOW, "t")
    rows, found = plan_batch([good, outsider, good], checks, lambda: "id")
    assert [len(r) for r in rows] == [1, 0, 1]
    assert [(p.row, p.entry, p.field) for p in found] == [
        (1, None, "student_id"),
        (2, 0, "outcome_id"),
    ]
    assert plan_batch([], checks, lambda: "id")[1][0].field == "rows"


def test_tags_are_normalised_and_self_assessments_tagged() -> None:
    assert normal_tags([" Reflection", "reflection", "Peer"], "test") == ("reflection", "peer")
    assert normal_tags([], "self_assessment") == ("self_assessment",)
