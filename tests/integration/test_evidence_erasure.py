"""The right to erasure in evidence, with a real key vault: what a teacher writes about a student
is stored and published sealed with the student's key, read back opened, and once the student is
forgotten it reads as removed and nothing more is recorded about them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from arc_contracts import AttemptRecordedV1, AttemptVoidedV1
from arc_evidence.application import Correction, EvidenceApplication
from arc_evidence.published import translate
from arc_evidence.rules import AttemptDraft, Rejected, ScoreEntry
from arc_platform.erasure import REMOVED, PersonalData, open_personal_data
from tests.support.evidence import FakeCatalog

NOW = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)
COMMENT = "Rosa explained her reasoning clearly"


@pytest.fixture
def personal(tmp_path: Path) -> Iterator[PersonalData]:
    opened = open_personal_data(f"sqlite:///{tmp_path / 'keyvault.sqlite'}", cache_seconds=0)
    yield opened
    opened.close()


@pytest.fixture
def app(personal: PersonalData) -> EvidenceApplication:
    catalog = FakeCatalog()
    catalog.define("sci.1")
    return EvidenceApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
        catalog=catalog,
        clock=lambda: NOW,
        personal=personal,
    )


def item(comment: str | None = COMMENT) -> AttemptDraft:
    return AttemptDraft(
        student_id="s-rosa",
        entries=(ScoreEntry("sci.1", Decimal(3)),),
        assessed_at=NOW - timedelta(days=1),
        recorded_by="t-ada",
        comment=comment,
    )


def published(app: EvidenceApplication) -> list[object]:
    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(1, 1000)]
    return [c for c in (translate(e) for e in events) if c is not None]


def test_comments_and_reasons_are_sealed_where_stored_and_published(
    app: EvidenceApplication,
) -> None:
    [[attempt]] = app.record(item()).attempt_ids
    app.supersede("s-rosa", attempt, Correction("typo in the score", "t-ada", score=Decimal(4)))
    [[corrected]] = app.record(item(comment=None)).attempt_ids
    app.void("s-rosa", corrected, "entered for the wrong student", "t-ada")

    stored = b" ".join(n.state for n in app.recorder.select_notifications(1, 1000))
    recorded, correction, _, voided = published(app)
    assert b"Rosa" not in stored and b"typo" not in stored and b"wrong student" not in stored
    assert isinstance(recorded, AttemptRecordedV1) and isinstance(correction, AttemptRecordedV1)
    assert recorded.comment is not None and recorded.comment.startswith("enc:v1:s-rosa:")
    assert correction.correction_reason is not None
    assert correction.correction_reason.startswith("enc:v1:s-rosa:")
    assert isinstance(voided, AttemptVoidedV1) and voided.reason.startswith("enc:v1:s-rosa:")

    history = app.student_history("s-rosa", include_voided=True)
    assert [s.attempt.comment for s in history] == [COMMENT, COMMENT, None]
    assert history[1].attempt.correction_reason == "typo in the score"
    assert history[2].void is not None and history[2].void.reason == "entered for the wrong student"


def test_once_forgotten_the_history_stays_but_its_text_reads_as_removed(
    app: EvidenceApplication, personal: PersonalData
) -> None:
    app.record(item())
    stored = len(app.recorder.select_notifications(1, 1000))

    personal.forget("s-rosa")

    [state] = app.student_history("s-rosa")
    assert state.attempt.comment == REMOVED
    assert state.attempt.score == Decimal(3)  # scores are not personal data: kept
    with pytest.raises(Rejected, match="forgotten") as refused:
        app.record(item(comment=None))
    assert [p.field for p in refused.value.problems] == ["student_id"]
    with pytest.raises(Rejected, match="forgotten"):
        app.void("s-rosa", state.attempt.attempt_id, "no longer wanted", "t-ada")
    assert len(app.recorder.select_notifications(1, 1000)) == stored
