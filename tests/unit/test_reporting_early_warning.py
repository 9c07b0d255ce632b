"""A counsellor relies on the early-warning rule: it flags students who stall, drop or go
quiet on a power outcome, and nobody else."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from arc_reporting.domain.asof import attempts_at
from arc_reporting.domain.early_warning import PairHistory, WarningRule, evaluate
from arc_reporting.domain.records import NO_EVIDENCE, Attempt, Change, Standing
from tests.support.reporting import day

RULE = WarningRule(stall_attempts=3, drop_weeks=4, quiet_weeks=3)


def attempt(n: int, score: str, voided: bool = False) -> Attempt:
    return Attempt(
        f"a{n}",
        "s",
        "o",
        "scored",
        Decimal(score),
        day(n),
        day(n),
        voided_at=day(n) + timedelta(hours=1) if voided else None,
        void_reason="wrong student" if voided else None,
    )


def change(n: int, before: str | None, after: str, status: str, seq: int | None = None) -> Change:
    b = None if before is None else Decimal(before)
    return Change(
        "s",
        "o",
        seq or n,
        b,
        b,
        "no_evidence" if before is None else ("mastered" if b and b >= 3 else "not_yet"),
        Decimal(after),
        Decimal(after),
        "L",
        status,
        1,
        "most_recent",
        "evidence",
        f"a{n}",
        day(n),
        day(n) + timedelta(seconds=1),
    )


def pair(
    attempts: list[Attempt],
    changes: list[Change],
    standing: Standing,
    power: bool = True,
    enrolled: datetime | None = None,
) -> PairHistory:
    return PairHistory("s", "o", power, standing, changes, attempts_at(attempts, None), enrolled)


APPROACHING = Standing("approaching", Decimal(2), Decimal(2), "Approaching")


def test_three_attempts_without_the_level_rising_is_stalled() -> None:
    attempts = [attempt(1, "2"), attempt(5, "2"), attempt(9, "1"), attempt(12, "2")]
    changes = [
        change(1, None, "2", "approaching"),
        change(9, "2", "1", "not_yet"),
        change(12, "1", "2", "approaching"),
    ]
    # The level last rose on day 12: only the attempt of day 12 itself precedes that rise.
    assert evaluate(RULE, day(13), pair(attempts, changes, APPROACHING)) is None
    flat = [change(1, None, "2", "approaching")]
    warning = evaluate(RULE, day(13), pair([*attempts[:3], attempt(12, "2")], flat, APPROACHING))
    assert warning is not None and warning.reasons == ("stalled",)
    assert warning.detail == "3 attempts since the level last rose, still Approaching"


def test_voided_attempts_do_not_make_a_student_stalled() -> None:
    attempts = [
        attempt(1, "2"),
        attempt(5, "2"),
        attempt(9, "2", voided=True),
        attempt(12, "2", voided=True),
    ]
    assert (
        evaluate(RULE, day(13), pair(attempts, [change(1, None, "2", "approaching")], APPROACHING))
        is None
    )


def test_a_recent_drop_warns_and_an_old_one_does_not() -> None:
    attempts = [attempt(1, "3"), attempt(20, "2")]
    changes = [change(1, None, "3", "mastered"), change(20, "3", "2", "approaching")]
    recent = evaluate(RULE, day(30), pair(attempts, changes, APPROACHING))
    assert recent is not None and recent.reasons == ("dropped",)
    assert "dropped from 3 to 2" in recent.detail
    assert (
        evaluate(RULE, day(20 + 7 * 4 + 1), pair(attempts, changes, APPROACHING, power=False))
        is None
    )


def test_a_mastered_outcome_never_warns() -> None:
    mastered = Standing("mastered", Decimal(3), Decimal(3), "Meets")
    assert (
        evaluate(
            RULE, day(200), pair([attempt(1, "3")], [change(1, None, "3", "mastered")], mastered)
        )
        is None
    )


def test_a_quiet_power_outcome_warns_after_the_configured_weeks() -> None:
    attempts = [attempt(1, "2")]
    changes = [change(1, None, "2", "approaching")]
    assert evaluate(RULE, day(1 + 20), pair(attempts, changes, APPROACHING)) is None
    quiet = evaluate(RULE, day(1 + 22), pair(attempts, changes, APPROACHING))
    assert quiet is not None and quiet.reasons == ("no_recent_evidence",)
    assert quiet.last_evidence_at == day(1)
    assert evaluate(RULE, day(1 + 22), pair(attempts, changes, APPROACHING, power=False)) is None


def test_no_evidence_at_all_warns_only_once_enrolled_for_the_quiet_weeks() -> None:
    assert evaluate(RULE, day(20), pair([], [], NO_EVIDENCE, enrolled=day(0))) is None
    late = evaluate(RULE, day(22), pair([], [], NO_EVIDENCE, enrolled=day(0)))
    assert late is not None and "no evidence yet" in late.detail
    assert evaluate(RULE, day(300), pair([], [], NO_EVIDENCE, enrolled=None)) is None


def test_the_rule_parameters_travel_with_the_warning_event() -> None:
    assert WarningRule(4, 2, 6).params() == {
        "stall_attempts": "4",
        "drop_weeks": "2",
        "quiet_weeks": "6",
    }


def test_several_reasons_are_listed_together() -> None:
    attempts = [attempt(1, "3"), attempt(2, "2"), attempt(3, "2"), attempt(4, "2")]
    changes = [change(1, None, "3", "mastered"), change(2, "3", "2", "approaching")]
    found = evaluate(RULE, day(30), pair(attempts, changes, APPROACHING))
    assert found is not None and found.reasons == ("stalled", "dropped", "no_recent_evidence")
