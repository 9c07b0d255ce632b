"""The mastery projection on its real store (SQLite and PostgreSQL): evidence, late evidence,
voids, policy and scale changes, explanations, as-of questions, roll-ups, replay and rebuild."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from arc_contracts import (
    AttemptRecordedV1,
    AttemptVoidedV1,
    ContractEvent,
    CourseDefinedV1,
    CourseOutcomeV1,
    Envelope,
    OutcomeDefinedV1,
    PolicyDefinedV1,
    ProficiencyScaleV1,
    stream_name,
)
from arc_mastery.application import MasteryApplication, course_rollup, parent_rollup
from arc_mastery.audit import compare, replay
from arc_mastery.domain import StudentOutcomeMastery, index_id, mastery_id
from arc_mastery.published import translate
from arc_platform.consumer import Delivery
from arc_platform.partitions import partition_position_key
from arc_platform.settings import ServiceSettings
from arc_platform.store import open_application

DAY0 = datetime(2026, 9, 1, 9, tzinfo=UTC)
SCALE = ProficiencyScaleV1.model_validate(
    {
        "scale_id": "four",
        "name": "Four-point",
        "mastery_threshold": 3,
        "levels": [
            {"value": v, "label": lb}
            for v, lb in [(1, "Not yet"), (2, "Approaching"), (3, "Meets"), (4, "Exceeds")]
        ],
    }
)
_ids = itertools.count(1)


class Feed:
    """Delivers contract events to the projection as the tracked consumers of each partition
    would: catalog events to every partition, a student's events to the student's partition."""

    def __init__(self, app: MasteryApplication) -> None:
        self.app = app
        self.sequences = {"catalog": 0, "evidence": 0}
        self.clock = DAY0

    def send(self, context: str, *events: ContractEvent) -> list[Any]:
        batches: dict[int, list[Delivery]] = {}
        for event in events:
            self.sequences[context] += 1
            self.clock += timedelta(minutes=1)
            envelope = Envelope(f"evt-{next(_ids)}", "/test", event.event_type(), self.clock)
            key = event.partition_key()
            targets = range(self.app.partitions) if key is None else [self.app.partition_of(key)]
            for partition in targets:
                position_key = partition_position_key(stream_name(context), partition)
                batches.setdefault(partition, []).append(
                    Delivery(
                        stream_name(context),
                        self.sequences[context],
                        event.subject(),
                        envelope,
                        event,
                        None,
                        position_key,
                    )
                )
        before = self.app.recorder.max_notification_id() or 0
        for partition, batch in batches.items():
            self.app.apply_batch(partition, batch)
        return [
            translate(self.app.mapper.to_domain_event(n))
            for n in self.app.recorder.select_notifications(before, 1000, inclusive_of_start=False)
            if translate(self.app.mapper.to_domain_event(n)) is not None
        ]


def attempt(
    student: str, outcome: str, score: int | None, day: int, **extra: Any
) -> AttemptRecordedV1:
    values: dict[str, Any] = {
        "attempt_id": f"att-{next(_ids)}",
        "student_id": student,
        "outcome_id": outcome,
        "outcome_revision": 1,
        "scale": SCALE,
        "score": None if score is None else Decimal(score),
        "assessed_at": DAY0 + timedelta(days=day),
        "recorded_at": DAY0 + timedelta(days=day, hours=2),
        "recorded_by": "t",
    } | extra
    return AttemptRecordedV1(**values)


def outcome(
    outcome_id: str, revision: int = 1, scale: ProficiencyScaleV1 = SCALE, parent: str | None = None
) -> OutcomeDefinedV1:
    return OutcomeDefinedV1(
        outcome_id=outcome_id,
        code=outcome_id.upper(),
        statement="I can",
        scale=scale,
        revision=revision,
        parent_id=parent,
    )


def policy(
    method: str,
    scope: str = "network",
    scope_id: str | None = None,
    revision: int = 1,
    **params: str,
) -> PolicyDefinedV1:
    return PolicyDefinedV1(
        policy_id=f"{scope}-{scope_id or 'all'}",
        revision=revision,
        scope=scope,  # type: ignore[arg-type]
        scope_id=scope_id,
        method=method,
        params=params,
        excluded_evidence_tags=("self_assessment",),
    )


@pytest.fixture
def app(tmp_path: Path, database_url: str | None) -> Iterator[MasteryApplication]:
    settings = ServiceSettings(service_name="mastery", data_dir=tmp_path, database_url=database_url)
    application = open_application(MasteryApplication, settings, partitions=3)
    yield application
    application.close()


def test_mastery_changes_are_published_only_when_something_changes(app: MasteryApplication) -> None:
    feed = Feed(app)
    feed.send("catalog", outcome("rp.1"))
    [first] = feed.send("evidence", attempt("ana", "rp.1", 2, 1))
    assert first.before.status == "no_evidence" and first.after.value == Decimal(2)
    assert first.after.level_label == "Approaching" and first.after.status == "approaching"
    assert first.cause.kind == "evidence" and first.cause.attempt_id
    assert first.method == "most_recent" and first.assessed_at == DAY0 + timedelta(days=1)
    assert feed.send("evidence", attempt("ana", "rp.1", 2, 2)) == []  # same standing: no event
    [up] = feed.send("evidence", attempt("ana", "rp.1", 3, 3))
    assert up.before.value == Decimal(2) and up.after.status == "mastered"
    assert up.after.evidence_count == 3
    ana = app.partition_of("ana")
    assert app.position(f"ARC_EVIDENCE.p{ana}") == 3
    assert [app.position(f"ARC_CATALOG.p{p}") for p in range(3)] == [1, 1, 1]


def test_a_new_pair_is_known_absent_from_its_students_index_without_asking_the_store(
    app: MasteryApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = Feed(app)
    feed.send("catalog", outcome("rp.1"), outcome("rp.2"))
    feed.send("evidence", attempt("cy", "rp.1", 2, 1))
    app.taking_over(app.partition_of("cy"))  # nothing cached: every answer from the store
    asked: list[UUID] = []
    select_events = app.recorder.select_events

    def counted(originator_id: Any, **kwargs: Any) -> Any:
        asked.append(originator_id)
        return select_events(originator_id, **kwargs)

    monkeypatch.setattr(app.recorder, "select_events", counted)
    [new_pair] = feed.send("evidence", attempt("cy", "rp.2", 3, 2))
    assert new_pair.before.status == "no_evidence" and new_pair.after.evidence_count == 1
    assert mastery_id("cy", "rp.2") not in asked  # the student's index said it is new
    assert index_id("student", "cy", app.partition_of("cy")) in asked
    # A pair the index lists is read back from the store, not started again.
    [known_pair] = feed.send("evidence", attempt("cy", "rp.1", 3, 3))
    assert known_pair.before.value == Decimal(2) and known_pair.after.evidence_count == 2
    assert mastery_id("cy", "rp.1") in asked
    # A student never seen: one question for the index in the batch, none for the pair.
    asked.clear()
    feed.send("evidence", attempt("dee", "rp.1", 1, 4), attempt("dee", "rp.2", 1, 4))
    assert asked.count(index_id("student", "dee", app.partition_of("dee"))) == 1
    assert mastery_id("dee", "rp.1") not in asked and mastery_id("dee", "rp.2") not in asked


def test_late_evidence_and_voids_recompute(app: MasteryApplication) -> None:
    feed = Feed(app)
    recent = attempt("ben", "rp.1", 4, 10)
    feed.send("evidence", recent)
    # An older assessment arriving late takes its place in time: the newest is still 4.
    assert feed.send("evidence", attempt("ben", "rp.1", 1, 2)) == []
    void = AttemptVoidedV1(
        attempt_id=recent.attempt_id,
        student_id="ben",
        outcome_id="rp.1",
        reason="scored the wrong paper",
        voided_by="t",
        voided_at=DAY0 + timedelta(days=11),
    )
    [after_void] = feed.send("evidence", void)
    assert after_void.cause.kind == "void" and after_void.after.value == Decimal(1)
    explanation = app.explanation("ben", "rp.1")
    assert explanation is not None
    assert [e.reason for e in explanation.excluded] == ["voided: scored the wrong paper"]


def test_a_policy_change_recomputes_every_affected_student_and_says_so(
    app: MasteryApplication,
) -> None:
    feed = Feed(app)
    feed.send("catalog", outcome("rp.1"), outcome("ee.2"))
    feed.send(
        "evidence",
        *[
            attempt(s, o, sc, d)
            for s in ("ana", "ben")
            for o in ("rp.1", "ee.2")
            for d, sc in ((1, 1), (2, 2), (3, 4))
        ],
    )
    changes = feed.send("catalog", policy("mean", scope="outcome", scope_id="rp.1"))
    assert sorted((c.student_id, c.outcome_id) for c in changes) == [
        ("ana", "rp.1"),
        ("ben", "rp.1"),
    ]
    assert all(
        c.cause.kind == "policy_change" and c.cause.policy_id == "outcome-rp.1" for c in changes
    )
    assert all(c.after.value == Decimal("2.33") and c.method == "mean" for c in changes)
    # A network policy reaches the outcomes without their own policy, and only those.
    network = feed.send("catalog", policy("mean"))
    assert sorted((c.student_id, c.outcome_id) for c in network) == [
        ("ana", "ee.2"),
        ("ben", "ee.2"),
    ]
    # Recomputing with a policy that gives the same values publishes nothing.
    assert feed.send("catalog", policy("mean", revision=2)) == []


def test_course_policy_and_rollups(app: MasteryApplication) -> None:
    feed = Feed(app)
    feed.send(
        "catalog",
        outcome("parent"),
        outcome("a", parent="parent"),
        outcome("b", parent="parent"),
        CourseDefinedV1(
            course_id="math-6",
            revision=1,
            title="Math 6",
            outcomes=(CourseOutcomeV1(outcome_id="a", power=True), CourseOutcomeV1(outcome_id="b")),
        ),
        policy("mean", scope="course", scope_id="math-6", course_rollup="all_power_mastered"),
    )
    feed.send(
        "evidence", attempt("cy", "a", 3, 1), attempt("cy", "a", 4, 2), attempt("cy", "b", 2, 1)
    )
    assert app.explanation("cy", "a").method == "mean"  # type: ignore[union-attr]
    credit = course_rollup(app, "cy", "math-6")
    assert (
        credit.rule == "all_power_mastered" and credit.mastered and credit.value == Decimal("2.75")
    )
    children = parent_rollup(app, "cy", "parent")
    assert children.rule == "all_children_mastered" and not children.mastered


def test_a_scale_change_recomputes_with_its_cause(app: MasteryApplication) -> None:
    feed = Feed(app)
    feed.send("catalog", outcome("rp.1"))
    feed.send("evidence", attempt("dee", "rp.1", 3, 1))
    stricter = SCALE.model_copy(update={"revision": 2, "mastery_threshold": Decimal(4)})
    [change] = feed.send("catalog", outcome("rp.1", revision=2, scale=stricter))
    assert change.cause.kind == "scale_change" and change.after.status == "approaching"


def test_explain_as_known_at_and_as_assessed_by(app: MasteryApplication) -> None:
    feed = Feed(app)
    feed.send("catalog", policy("mean"))
    feed.send(
        "evidence",
        attempt("eve", "rp.1", 2, 1),
        attempt("eve", "rp.1", 4, 5),
        attempt("eve", "rp.1", 1, 3, kind="self_assessment", assessment_kind="self_assessment")
        if False
        else attempt("eve", "rp.1", 1, 3, assessment_kind="self_assessment"),
    )
    now = app.explanation("eve", "rp.1")
    assert now is not None and now.standing.value == Decimal(3)
    assert [c.contribution for c in now.counted] in ([Decimal("0.5"), Decimal("0.5")], [None, None])
    assert "self_assessment" in now.excluded[0].reason
    early = app.explanation("eve", "rp.1", as_assessed_by=DAY0 + timedelta(days=2))
    assert early is not None and early.standing.value == Decimal(2)
    known = app.explanation("eve", "rp.1", as_known_at=DAY0 + timedelta(days=5, hours=1))
    assert known is not None and known.standing.value == Decimal(2)  # day-5 attempt recorded at +2h


def test_replay_and_rebuild_comparison(
    app: MasteryApplication, tmp_path: Path, database_url: str | None
) -> None:
    feed = Feed(app)
    events = [attempt("fay", "rp.1", s, d) for d, s in ((1, 1), (2, 3), (3, 2))]
    feed.send("evidence", *events)
    steps = list(replay(app, "fay", None))
    assert [s.what.split(" ")[0] for s in steps] == ["started", "evidence", "standing"] * 1 + [
        "evidence",
        "standing",
    ] * 2
    assert steps[-1].value_after.startswith("2")
    settings = ServiceSettings(
        service_name="mastery",
        data_dir=tmp_path / "again",
        database_url=database_url,
        database_schema="mastery_again",
    )
    again = open_application(MasteryApplication, settings, partitions=3)
    again_feed = Feed(again)
    again_feed.send("evidence", *events)
    assert compare(app.all_states(), again.all_states()) == []
    again_feed.send("evidence", attempt("fay", "rp.1", 4, 9))
    [difference] = compare(app.all_states(), again.all_states())
    assert difference.student_id == "fay"
    again.close()
    assert all(isinstance(e, StudentOutcomeMastery.Event) for e in app.history("fay", "rp.1"))


def test_the_replay_command_prints_each_step_with_the_value_after(
    app: MasteryApplication, tmp_path: Path, database_url: str | None
) -> None:
    feed = Feed(app)
    feed.send("catalog", outcome("rp.1"))
    first = attempt("gus", "rp.1", 2, 1)
    feed.send("evidence", first, attempt("gus", "rp.1", 4, 2))
    feed.send(
        "evidence",
        AttemptVoidedV1(
            attempt_id=first.attempt_id,
            student_id="gus",
            outcome_id="rp.1",
            reason="copied work",
            voided_by="t",
            voided_at=DAY0 + timedelta(days=3),
        ),
    )
    env = {**os.environ, "ARC_DATA_DIR": str(tmp_path), "ARC_PARTITIONS": "3", "COLUMNS": "200"}
    if database_url:
        env |= {"ARC_DATABASE_URL": database_url, "ARC_DATABASE_SCHEMA": "mastery"}
    done = subprocess.run(
        [sys.executable, "-m", "arc_mastery", "replay", "gus"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "rp.1" in line]
    assert any("void of" in line and "copied work" in line for line in lines)
    assert "4.00 Exceeds [mastered]" in lines[-1]
    missing = subprocess.run(
        [sys.executable, "-m", "arc_mastery", "replay", "nobody"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 1 and "no mastery history" in missing.stdout
