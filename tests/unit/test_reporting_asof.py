"""An auditor asks how things stood on a past date: only what was known by then counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from arc_contracts import (
    PersonDefinedV1,
    PolicyDefinedV1,
    SectionDefinedV1,
)
from arc_reporting.domain.asof import BadField, attempts_at, parse_moment, standing_at, standings_at
from arc_reporting.domain.catalog import Entry, build_catalog
from arc_reporting.domain.records import NO_EVIDENCE, Attempt, Change
from tests.support.reporting import day


def test_a_date_means_the_end_of_that_day_in_utc() -> None:
    assert parse_moment("2026-10-02") == datetime(2026, 10, 2, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_moment("2026-10-02T12:00Z") == datetime(2026, 10, 2, 12, tzinfo=UTC)
    assert parse_moment("2026-10-02T14:00+02:00") == datetime(2026, 10, 2, 12, tzinfo=UTC)
    assert parse_moment(None) is None and parse_moment("  ") is None


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "2026-10-02T12:00"])
def test_a_bad_moment_names_the_field(text: str) -> None:
    with pytest.raises(BadField) as raised:
        parse_moment(text, "as_of")
    assert raised.value.field == "as_of"


def change(n: int, value: int, seq: int, status: str = "approaching") -> Change:
    return Change(
        "s",
        "o",
        seq,
        None,
        None,
        "no_evidence",
        Decimal(value),
        Decimal(value),
        f"L{value}",
        status,
        1,
        "most_recent",
        "evidence",
        None,
        day(n),
        day(n),
    )


def test_the_standing_is_the_newest_change_known_by_then() -> None:
    changes = [change(1, 1, 1, "not_yet"), change(5, 2, 2), change(9, 3, 3, "mastered")]
    assert standing_at(changes, day(4)).value == 1
    assert standing_at(changes, day(7)).value == 2
    assert standing_at(changes, None).status == "mastered"
    assert standing_at(changes, day(0)) is NO_EVIDENCE
    assert standings_at(changes, day(0)) == {}
    assert standings_at(changes, day(6))[("s", "o")].value == 2


def attempt(n: str, assessed: int, recorded: int, **extra: Any) -> Attempt:
    return Attempt(
        n,
        "s",
        "o",
        extra.pop("status", "scored"),
        extra.pop("score", Decimal(2)),
        day(assessed),
        day(recorded),
        **extra,
    )


def test_a_backdated_attempt_appears_only_from_when_it_was_recorded() -> None:
    items = [attempt("a1", 1, 1), attempt("late", 2, 20)]
    assert [a.attempt.attempt_id for a in attempts_at(items, day(10))] == ["a1"]
    assert [a.attempt.attempt_id for a in attempts_at(items, day(21))] == ["a1", "late"]


def test_a_void_counts_from_when_it_was_made() -> None:
    items = [attempt("a1", 1, 1, voided_at=day(8), void_reason="wrong student")]
    before, after = attempts_at(items, day(7))[0], attempts_at(items, day(9))[0]
    assert before.counted and not before.voided
    assert after.voided and after.not_counted == "voided: wrong student"


def test_every_reason_an_attempt_does_not_count_is_given() -> None:
    items = [
        attempt("old", 1, 1),
        attempt("fix", 1, 2, supersedes="old"),
        attempt("exc", 3, 3, status="excused", score=None),
        attempt("mis", 4, 4, status="missing", score=None),
        attempt("prac", 5, 5, weight=Decimal(0)),
        attempt("self", 6, 6, assessment_kind="self_assessment"),
    ]
    reasons = {
        a.attempt.attempt_id: a.not_counted
        for a in attempts_at(items, None, frozenset({"self_assessment"}))
    }
    assert reasons["fix"] is None
    assert reasons["old"] == "corrected by a later entry (fix)"
    assert reasons["exc"] and reasons["exc"].startswith("excused")
    assert reasons["mis"] and reasons["mis"].startswith("missing")
    assert reasons["prac"] and "formative" in reasons["prac"]
    assert reasons["self"] == "the policy does not count self_assessment evidence"


def entry(event: object, at: datetime) -> Entry:
    from arc_contracts import ContractEvent
    from arc_reporting.domain.catalog import identity

    assert isinstance(event, ContractEvent)
    found = identity(event)
    assert found is not None
    return Entry(event.subject(), found[0], found[1], at, event.model_dump_json())


def section(revision: int, students: tuple[str, ...]) -> SectionDefinedV1:
    return SectionDefinedV1(
        section_id="sec", revision=revision, course_id="c", title="6A", student_ids=students
    )


def test_the_catalog_as_of_a_date_has_the_revisions_published_by_then() -> None:
    entries = [
        entry(
            PersonDefinedV1(
                person_id="s1", revision=1, role="student", given_name="Maya", family_name="Garcia"
            ),
            day(0),
        ),
        entry(
            PersonDefinedV1(
                person_id="s1", revision=2, role="student", given_name="Maya", family_name="Lopez"
            ),
            day(10),
        ),
        entry(section(1, ("s1",)), day(0)),
        entry(section(2, ("s1", "s2")), day(5)),
        entry(section(3, ("s2",)), day(8)),
        entry(section(4, ("s1", "s2")), day(12)),
    ]
    assert build_catalog(entries, day(3)).name_of("s1") == "Maya Garcia"
    assert build_catalog(entries, None).name_of("s1") == "Maya Lopez"
    assert build_catalog(entries, day(6)).sections["sec"].student_ids == ("s1", "s2")
    # Maya left on day 8 and came back on day 12: enrolled since day 12, not day 0.
    assert build_catalog(entries, None).enrolled_since[("sec", "s1")] == day(12)
    assert build_catalog(entries, day(9)).enrolled_since == {("sec", "s2"): day(5)}


def test_a_retired_policy_gives_way_to_the_wider_one() -> None:
    def policy(pid: str, revision: int, scope: str, retired: bool = False) -> PolicyDefinedV1:
        return PolicyDefinedV1(
            policy_id=pid,
            revision=revision,
            scope=scope,
            scope_id="c" if scope == "course" else None,
            method="mean",
            retired=retired,
        )  # type: ignore[arg-type]

    entries = [
        entry(policy("net", 1, "network"), day(0)),
        entry(policy("course", 1, "course"), day(1)),
        entry(policy("course", 2, "course", retired=True), day(9)),
    ]
    assert build_catalog(entries, day(5)).course_policy("c").policy_id == "course"  # type: ignore[union-attr]
    assert build_catalog(entries, None).course_policy("c").policy_id == "net"  # type: ignore[union-attr]
    assert build_catalog(entries, day(0) - timedelta(days=1)).course_policy("c") is None
