"""A teacher records, corrects and reads evidence through the evidence use cases (in-memory
store and catalog: the rules, not the infrastructure, are under test here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arc_contracts import AttemptRecordedV1, AttemptVoidedV1
from arc_evidence.application import Correction, EvidenceApplication
from arc_evidence.domain import StudentEvidence
from arc_evidence.published import translate
from arc_evidence.rules import AttemptDraft, KnownSection, Rejected, ScoreEntry
from tests.support.evidence import PERCENT, FakeCatalog

NOW = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)
YESTERDAY = NOW - timedelta(days=1)


@pytest.fixture
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.define("sci.1", revision=3)
    catalog.define("sci.2")
    catalog.define("pct.1", PERCENT)
    catalog.define("old.1", retired=True)
    catalog.people.update({"stu-1": ("student", True), "stu-2": ("student", True)})
    catalog.people.update({"gone": ("student", False), "t-ada": ("teacher", True)})
    catalog.sections["6a"] = KnownSection("6a", 1, frozenset({"stu-1", "stu-3"}))
    return catalog


@pytest.fixture
def app(catalog: FakeCatalog) -> EvidenceApplication:
    return EvidenceApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
        catalog=catalog,
        require_roster=True,
        clock=lambda: NOW,
    )


def item(student: str = "stu-1", *scores: tuple[str, str | None], **extra: object) -> AttemptDraft:
    entries = tuple(
        ScoreEntry(o, None if s is None else Decimal(s)) for o, s in scores or [("sci.1", "3")]
    )
    values: dict[str, object] = {
        "student_id": student,
        "entries": entries,
        "assessed_at": YESTERDAY,
        "recorded_by": "t-ada",
    } | extra
    return AttemptDraft(**values)  # type: ignore[arg-type]


def published(app: EvidenceApplication) -> list[object]:
    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 1000)]
    return [c for c in (translate(e) for e in events) if c is not None]


def problems(exc: pytest.ExceptionInfo[Rejected]) -> list[tuple[int | None, int | None, str]]:
    return [(p.row, p.entry, p.field) for p in exc.value.problems]


def test_one_item_evidences_several_outcomes_each_with_its_own_score(
    app: EvidenceApplication,
) -> None:
    written = app.record(item("stu-1", ("sci.1", "3"), ("pct.1", "87.50")))
    [[first, second]] = written.attempt_ids
    events = published(app)
    assert [(e.outcome_id, e.score) for e in events] == [  # type: ignore[attr-defined]
        ("sci.1", Decimal(3)),
        ("pct.1", Decimal("87.5")),
    ]
    assert [e.attempt_id for e in events] == [first, second]  # type: ignore[attr-defined]
    assert written.position == app.recorder.max_notification_id()


def test_published_attempt_carries_everything_a_consumer_needs(app: EvidenceApplication) -> None:
    app.record(
        item(
            "stu-1",
            assessment_ref="unit-3-quiz#4",
            assessment_kind="performance_task",
            weight=Decimal("0.5"),
            tags=("Practice ", "practice"),
            comment="Good reasoning",
            artifact_url="https://drive.example/work/1",
        )
    )
    [event] = published(app)
    assert isinstance(event, AttemptRecordedV1)
    assert event.outcome_revision == 3 and event.scale.name == "Four-point"
    assert event.scale.revision == 2 and event.status == "scored"
    assert event.assessed_at == YESTERDAY and event.recorded_at == NOW
    assert event.recorded_by == "t-ada" and event.assessment_ref == "unit-3-quiz#4"
    assert event.assessment_kind == "performance_task" and event.weight == Decimal("0.5")
    assert event.tags == ("practice",) and event.comment == "Good reasoning"
    assert event.artifact_url == "https://drive.example/work/1" and event.source == "api"


def test_excused_and_missing_are_explicit_and_never_a_zero(app: EvidenceApplication) -> None:
    app.record(
        AttemptDraft(
            "stu-1",
            (ScoreEntry("sci.1", None, "excused"), ScoreEntry("sci.2", None, "missing")),
            YESTERDAY,
            "t-ada",
        )
    )
    events = published(app)
    assert [(e.status, e.score) for e in events] == [  # type: ignore[attr-defined]
        ("excused", None),
        ("missing", None),
    ]
    with pytest.raises(Rejected) as refused:
        app.record(AttemptDraft("stu-1", (ScoreEntry("sci.1", Decimal(0), "missing"),), NOW, "t"))
    assert [(p.field, p.description) for p in refused.value.problems] == [
        ("score", "must be empty when the status is missing")
    ]


def test_a_self_assessment_is_tagged_so_policy_can_leave_it_out(app: EvidenceApplication) -> None:
    app.record(item("stu-1", assessment_kind="self_assessment", tags=("reflection",)))
    [event] = published(app)
    assert event.assessment_kind == "self_assessment"  # type: ignore[attr-defined]
    assert event.tags == ("reflection", "self_assessment")  # type: ignore[attr-defined]


def test_a_class_batch_records_every_row_in_one_transaction(app: EvidenceApplication) -> None:
    written = app.record_batch([item("stu-1"), item("stu-2", ("sci.1", "2"))])
    assert len(written.attempt_ids) == 2
    assert [e.student_id for e in published(app)] == ["stu-1", "stu-2"]  # type: ignore[attr-defined]


def test_one_bad_row_records_nothing_and_every_bad_row_is_reported(
    app: EvidenceApplication,
) -> None:
    rows = [
        item("stu-1"),
        item("nobody"),
        item("stu-2", ("sci.1", "3"), ("pct.1", "101")),
        item("stu-1", ("sci.1", "4")),
    ]
    with pytest.raises(Rejected) as refused:
        app.record_batch(rows)
    assert problems(refused) == [
        (1, None, "student_id"),
        (2, 1, "score"),
        (3, 0, "outcome_id"),
    ]
    assert "already has outcome 'sci.1' in row 1" in refused.value.problems[2].description
    assert app.recorder.max_notification_id() is None


def test_a_batch_for_a_section_refuses_students_not_on_its_roster(
    app: EvidenceApplication,
) -> None:
    with pytest.raises(Rejected) as refused:
        app.record_batch([item("stu-1"), item("stu-2")], section_id="6a")
    assert [(p.row, p.description) for p in refused.value.problems] == [
        (1, "student 'stu-2' is not on the roster of section '6a'")
    ]
    with pytest.raises(Rejected, match="unknown section 'zz'"):
        app.record_batch([item("stu-1")], section_id="zz")
    app.record_batch([item("stu-1"), item("stu-3")], section_id="6a")  # stu-3: roster only


@pytest.mark.parametrize(
    ("student", "description"),
    [
        ("nobody", "unknown student 'nobody'"),
        ("gone", "student 'gone' is no longer active"),
        ("t-ada", "'t-ada' is not a student"),
    ],
)
def test_with_roster_checking_only_known_students_get_evidence(
    app: EvidenceApplication, student: str, description: str
) -> None:
    with pytest.raises(Rejected) as refused:
        app.record(item(student))
    assert [(p.field, p.description) for p in refused.value.problems] == [
        ("student_id", description)
    ]


def test_without_roster_checking_any_student_id_is_accepted(catalog: FakeCatalog) -> None:
    open_network = EvidenceApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, catalog=catalog, clock=lambda: NOW
    )
    open_network.record(item("never-defined"))
    assert [s.attempt.student_id for s in open_network.student_history("never-defined")] == [
        "never-defined"
    ]


def test_a_retried_call_with_the_same_key_returns_the_original_result(
    app: EvidenceApplication,
) -> None:
    first = app.record(item(), idempotency_key="gradebook-sync-42")
    again = app.record(item(), idempotency_key="gradebook-sync-42")
    assert again.attempt_ids == first.attempt_ids and again.replayed
    assert len(app.student_history("stu-1")) == 1
    with pytest.raises(Rejected) as refused:
        app.record(item("stu-1", ("sci.1", "4")), idempotency_key="gradebook-sync-42")
    assert refused.value.kind == "conflict"
    assert refused.value.problems[0].field == "idempotency_key"


def test_a_rejected_call_does_not_use_up_its_key(app: EvidenceApplication) -> None:
    with pytest.raises(Rejected):
        app.record(item("stu-1", ("sci.1", "9")), idempotency_key="k-1")
    assert not app.record(item(), idempotency_key="k-1").replayed


def test_a_void_needs_a_reason_and_an_actor_and_keeps_the_attempt_in_history(
    app: EvidenceApplication,
) -> None:
    [[attempt_id]] = app.record(item()).attempt_ids
    with pytest.raises(Rejected) as refused:
        app.void("stu-1", attempt_id, " ", "")
    assert [p.field for p in refused.value.problems] == ["reason", "voided_by"]
    app.void("stu-1", attempt_id, "wrong student", "t-ada")
    assert app.student_history("stu-1") == []
    [voided] = app.student_history("stu-1", include_voided=True)
    assert voided.void is not None and voided.void.reason == "wrong student"
    event = published(app)[-1]
    assert isinstance(event, AttemptVoidedV1)
    assert (event.attempt_id, event.outcome_id, event.voided_by) == (attempt_id, "sci.1", "t-ada")


def test_voiding_twice_or_an_unknown_attempt_is_refused(app: EvidenceApplication) -> None:
    [[attempt_id]] = app.record(item()).attempt_ids
    app.void("stu-1", attempt_id, "typo", "t-ada")
    with pytest.raises(Rejected, match="already voided") as twice:
        app.void("stu-1", attempt_id, "typo", "t-ada")
    assert twice.value.kind == "conflict"
    with pytest.raises(Rejected) as unknown:
        app.void("stu-2", attempt_id, "typo", "t-ada")
    assert unknown.value.kind == "not_found"


def test_a_correction_supersedes_the_original_and_links_to_it(app: EvidenceApplication) -> None:
    [[original]] = app.record(item(comment="see me")).attempt_ids
    written = app.supersede(
        "stu-1", original, Correction("typed 3, meant 4", "t-ada", score=Decimal(4))
    )
    [[corrected]] = written.attempt_ids
    event = published(app)[-1]
    assert isinstance(event, AttemptRecordedV1)
    assert event.supersedes == original and event.score == Decimal(4)
    assert event.correction_reason == "typed 3, meant 4" and event.comment == "see me"
    assert event.assessed_at == YESTERDAY
    assert [s.attempt.attempt_id for s in app.student_history("stu-1")] == [corrected]
    history = app.student_history("stu-1", include_voided=True)
    assert [(s.attempt.attempt_id, s.superseded_by) for s in history] == [
        (original, corrected),
        (corrected, None),
    ]
    with pytest.raises(Rejected, match="superseded by"):
        app.supersede("stu-1", original, Correction("again", "t-ada", score=Decimal(2)))


def test_a_correction_is_checked_like_any_attempt(app: EvidenceApplication) -> None:
    [[original]] = app.record(item()).attempt_ids
    with pytest.raises(Rejected) as refused:
        app.supersede("stu-1", original, Correction("", "t-ada", score=Decimal(7)))
    assert [p.field for p in refused.value.problems] == ["score", "reason"]


def test_a_retake_links_to_the_original_and_counts_on(app: EvidenceApplication) -> None:
    [[first]] = app.record(item()).attempt_ids
    retake = AttemptDraft("stu-1", (ScoreEntry("sci.1", Decimal(4), retake_of=first),), NOW, "t")
    app.record(retake)
    event = published(app)[-1]
    assert event.retake_of == first and event.attempt_number == 2  # type: ignore[attr-defined]
    wrong = AttemptDraft("stu-1", (ScoreEntry("sci.2", Decimal(4), retake_of=first),), NOW, "t")
    with pytest.raises(Rejected, match=r"is on outcome 'sci\.1', not 'sci\.2'"):
        app.record(wrong)


def test_history_filters_by_outcome_and_assessed_date(app: EvidenceApplication) -> None:
    for days, outcome in [(10, "sci.1"), (5, "sci.2"), (2, "sci.1")]:
        app.record(item("stu-1", (outcome, "3"), assessed_at=NOW - timedelta(days=days)))
    dates = [
        (NOW - s.attempt.assessed_at).days
        for s in app.student_history(
            "stu-1", "sci.1", NOW - timedelta(days=11), NOW - timedelta(days=2)
        )
    ]
    assert dates == [10]
    assert len(app.student_history("stu-1", assessed_from=NOW - timedelta(days=6))) == 2
    assert app.student_history("nobody") == []


def test_evidence_recorded_before_this_version_reads_as_scored() -> None:
    state = {
        "student_id": "s",
        "attempt_id": "a",
        "outcome_id": "o",
        "outcome_revision": 1,
        "scale": {},
        "score": Decimal(3),
        "assessed_at": NOW,
        "recorded_at": NOW,
        "recorded_by": "t",
        "traceparent": "",
    }
    StudentEvidence.AttemptRecorded.upcast_v1_v2(state)
    assert state["status"] == "scored" and state["weight"] == Decimal(1)
    assert state["tags"] == [] and state["source"] == "api"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["1", "2", "3", "4", "0", "9", "2.5"]), min_size=1, max_size=12))
def test_a_batch_is_all_or_nothing_and_names_exactly_the_bad_rows(scores: list[str]) -> None:
    catalog = FakeCatalog()
    catalog.define("sci.1")
    app = EvidenceApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, catalog=catalog, clock=lambda: NOW
    )
    rows = [item(f"stu-{n}", ("sci.1", score)) for n, score in enumerate(scores)]
    bad = {n for n, score in enumerate(scores) if score not in {"1", "2", "3", "4"}}
    try:
        written = app.record_batch(rows)
    except Rejected as refused:
        assert {p.row for p in refused.problems} == bad
        assert app.recorder.max_notification_id() is None
    else:
        assert not bad and len(written.attempt_ids) == len(scores)
        assert sum(len(app.student_history(f"stu-{n}")) for n in range(len(scores))) == len(scores)
