"""A student's evidence is an append-only history: attempts, voids and corrections are events,
and what is already stored (even by an older version) is read back unchanged."""

from __future__ import annotations

import gc
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from arc_contracts import AttemptRecordedV1
from arc_evidence.application import EvidenceApplication
from arc_evidence.domain import StudentEvidence, student_aggregate_id
from arc_evidence.published import translate
from arc_evidence.rules import NewAttempt, Rejected
from tests.support.evidence import FOUR_LEVELS

NOW = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)


def attempt(attempt_id: str, outcome_id: str = "sci.1", **extra: object) -> NewAttempt:
    values: dict[str, object] = {
        "attempt_id": attempt_id,
        "student_id": "stu-1",
        "outcome_id": outcome_id,
        "outcome_revision": 1,
        "scale": FOUR_LEVELS,
        "status": "scored",
        "score": Decimal(3),
        "assessed_at": NOW - timedelta(days=1),
        "recorded_at": NOW,
        "recorded_by": "t-ada",
    } | extra
    return NewAttempt(**values)  # type: ignore[arg-type]


def test_attempts_are_kept_in_the_order_they_were_recorded() -> None:
    student = StudentEvidence(student_id="stu-1")
    for name in ("a", "b", "c"):
        student.record(attempt(name))
    assert student.attempt_ids == ["a", "b", "c"]
    assert student.version == 4  # opened + three attempts: one total order per student


def test_an_attempt_id_is_recorded_once() -> None:
    student = StudentEvidence(student_id="stu-1")
    student.record(attempt("a"))
    with pytest.raises(Rejected, match="already recorded"):
        student.record(attempt("a"))


def test_links_must_point_into_the_same_history() -> None:
    student = StudentEvidence(student_id="stu-1")
    student.record(attempt("a"))
    problems = student.link_problems(attempt("b", retake_of="zz", supersedes="yy"), entry=2)
    assert [(p.field, p.entry) for p in problems] == [("retake_of", 2), ("attempt_id", None)]
    assert student.link_problems(attempt("c", "sci.2", supersedes="a"))[0].description == (
        "a correction must be on the same outcome"
    )


def test_a_voided_attempt_stays_in_history_but_no_longer_counts() -> None:
    student = StudentEvidence(student_id="stu-1")
    student.record(attempt("a"))
    student.record(attempt("b"))
    student.void("a", "recorded for the wrong student", "t-ada", NOW, "")
    assert [s.attempt.attempt_id for s in student.history()] == ["b"]
    voided = student.history(include_voided=True)[0]
    assert not voided.counts and voided.void is not None
    assert voided.void.voided_by == "t-ada"


def test_a_superseded_attempt_cannot_be_voided_or_corrected_again() -> None:
    student = StudentEvidence(student_id="stu-1")
    student.record(attempt("a"))
    student.record(attempt("b", supersedes="a", correction_reason="typo"))
    with pytest.raises(Rejected, match="superseded by 'b'") as refused:
        student.void("a", "typo", "t-ada", NOW, "")
    assert refused.value.kind == "conflict"
    with pytest.raises(Rejected) as unknown:
        student.void("zz", "typo", "t-ada", NOW, "")
    assert unknown.value.kind == "not_found"


def test_a_retake_without_a_number_counts_on_from_the_original() -> None:
    student = StudentEvidence(student_id="stu-1")
    student.record(attempt("a", attempt_number=2))
    student.record(attempt("b", retake_of="a"))
    assert student.attempts["b"].attempt.attempt_number == 3


def test_an_attempt_stored_by_the_first_version_is_read_and_published_as_scored() -> None:
    """Events recorded before excused/missing, tags and links existed are upcast, not
    rewritten: the store keeps them exactly as they were written."""
    app = EvidenceApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    aggregate_id = student_aggregate_id("stu-old")

    def stored(version: int, topic: str, state: dict[str, object]) -> StoredEvent:
        body = json.dumps(
            {
                "timestamp": {"_type_": "datetime_iso", "_data_": NOW.isoformat()},
                **state,
            }
        ).encode()
        return StoredEvent(aggregate_id, version, topic, body)

    app.recorder.insert_events(
        [
            stored(
                1,
                get_topic(StudentEvidence.Opened),
                {"student_id": "stu-old", "originator_topic": get_topic(StudentEvidence)},
            ),
            stored(
                2,
                get_topic(StudentEvidence.AttemptRecorded),
                {
                    "student_id": "stu-old",
                    "attempt_id": "legacy-1",
                    "outcome_id": "sci.1",
                    "outcome_revision": 1,
                    "scale": FOUR_LEVELS.model_dump(mode="json"),
                    "score": {"_type_": "decimal_str", "_data_": "3"},
                    "assessed_at": {"_type_": "datetime_iso", "_data_": NOW.isoformat()},
                    "recorded_at": {"_type_": "datetime_iso", "_data_": NOW.isoformat()},
                    "recorded_by": "t-ada",
                    "traceparent": "",
                },
            ),
        ]
    )
    [state] = app.student_history("stu-old")
    assert state.attempt.status == "scored" and state.attempt.tags == ()
    event = translate(app.mapper.to_domain_event(app.recorder.select_notifications(2, 1)[0]))
    assert isinstance(event, AttemptRecordedV1)
    assert event.score == Decimal(3) and event.status == "scored" and event.weight == 1


def test_a_history_keeps_one_copy_of_each_scale_and_little_per_attempt() -> None:
    """A student's history stays in evidence's memory: attempts on the same scale share one
    validated scale (each had its own, 3.5 KB of the 4.4 KB an attempt took); another scale
    is its own object, equal to what it was recorded with."""
    history = StudentEvidence(student_id="stu-1")
    wider = FOUR_LEVELS.model_copy(update={"scale_id": "five", "maximum": Decimal(5)})
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for n in range(500):
            history.record(attempt(f"a-{n}", outcome_id=f"sci.{n % 60}"))
        history.record(attempt("a-wider", scale=wider, score=Decimal(4)))
        history.collect_events()
        gc.collect()
        kept = sum(
            stat.size_diff
            for stat in tracemalloc.take_snapshot().compare_to(before, "filename")
            if "tracemalloc" not in (stat.traceback[0].filename if stat.traceback else "")
        )
    finally:
        tracemalloc.stop()
    scales = {id(state.attempt.scale) for state in history.attempts.values()}
    assert len(scales) == 2
    assert history.attempts["a-7"].attempt.scale == FOUR_LEVELS
    assert history.attempts["a-wider"].attempt.scale == wider
    assert kept / 501 < 1500, f"{kept / 501:.0f} bytes per attempt"
