"""The right to erasure in evidence, with a real key vault: what a teacher writes about a student
is stored and published sealed with the student's key, read back opened, and once the student is
forgotten it reads as removed and nothing more is recorded about them. The same goes for the
personal parts of the xAPI statements a quiz tool sends about them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arc_contracts import AttemptRecordedV1, AttemptVoidedV1
from arc_evidence.application import Correction, EvidenceApplication
from arc_evidence.domain import XapiStatement, statement_aggregate_id
from arc_evidence.published import translate
from arc_evidence.rules import AttemptDraft, Rejected, ScoreEntry
from arc_evidence.statements import (
    find_statement,
    received_all,
    retry_mapping,
    store_statements,
    unmapped_statements,
)
from arc_evidence.xapi import OUTCOME_EXTENSION
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
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.define("sci.1")
    return catalog


@pytest.fixture
def app(personal: PersonalData, catalog: FakeCatalog) -> EvidenceApplication:
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


# --- xAPI statements ----------------------------------------------------------------------------

ROSA = {
    "objectType": "Agent",
    "name": "Rosa Diaz",
    "account": {"homePage": "https://sis.example", "name": "s-rosa"},
}
ROSA_BY_EMAIL = {"name": "Rosa Diaz", "mbox": "mailto:rosa.diaz@example.org"}


def statement(actor: dict[str, Any], outcome: str = "sci.1") -> dict[str, Any]:
    return {
        "actor": actor,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/scored"},
        "object": {"id": "https://quiz.example/activities/forces-1"},
        "result": {"score": {"raw": 3}, "response": "Rosa's answer: the forces balance"},
        "context": {"extensions": {OUTCOME_EXTENSION: outcome}},
        "timestamp": "2026-10-01T10:00:00Z",
    }


def send(app: EvidenceApplication, *raws: dict[str, Any]) -> list[str]:
    return store_statements(app, received_all(list(raws), NOW))


def stored_text(app: EvidenceApplication, statement_id: str) -> str:
    stored: XapiStatement = app.repository.get(statement_aggregate_id(statement_id))
    return stored.statement


def test_statements_are_stored_with_their_personal_parts_sealed(app: EvidenceApplication) -> None:
    """A statement about a student is sealed with her key; one by an actor known only by an
    email address, with a key of that actor's own, named without the address."""
    [mapped] = send(app, statement(ROSA))
    [by_email] = send(app, statement(ROSA_BY_EMAIL))

    stored = b" ".join(n.state for n in app.recorder.select_notifications(1, 1000))
    for personal_text in (b"Rosa", b"rosa.diaz", b"forces balance"):
        assert personal_text not in stored
    assert json.loads(stored_text(app, mapped))["actor"].startswith("enc:v1:s-rosa:")
    assert json.loads(stored_text(app, by_email))["actor"].startswith("enc:v1:xapi-agent:")

    found = find_statement(app, mapped)
    assert found is not None and found.status == "mapped" and found.student_id == "s-rosa"
    assert found.statement["actor"] == ROSA
    assert found.statement["result"]["response"] == "Rosa's answer: the forces balance"
    assert found.statement["result"]["score"] == {"raw": 3}  # not personal: plain
    found = find_statement(app, by_email)
    assert found is not None and found.statement["actor"] == ROSA_BY_EMAIL


def test_once_forgotten_her_statements_read_as_removed_mapped_or_not(
    app: EvidenceApplication, catalog: FakeCatalog, personal: PersonalData
) -> None:
    """Kept unmapped (its outcome is not known yet), a statement is already under the key of
    the student its account names, so the retry that maps it re-seals nothing. After the
    forget, her statements stay (and stay listed) but read as by a removed student, and
    nothing more is stored about her."""
    [retried] = send(app, statement(ROSA, outcome="sci.2"))
    [unmapped] = send(app, statement(ROSA, outcome="sci.3"))
    sealed_before_retry = stored_text(app, retried)
    catalog.define("sci.2")
    assert retry_mapping(app, retried).status == "mapped"
    assert stored_text(app, retried) == sealed_before_retry
    stored = len(app.recorder.select_notifications(1, 1000))

    personal.forget("s-rosa")

    for statement_id, status in ((retried, "mapped"), (unmapped, "unmapped")):
        found = find_statement(app, statement_id)
        assert found is not None and found.status == status
        assert found.statement["actor"] == {"objectType": "Agent", "name": REMOVED}
        assert "response" not in found.statement["result"]
        assert found.statement["result"]["score"] == {"raw": 3}
    [listed], _ = unmapped_statements(app)
    assert listed.statement_id == unmapped
    assert listed.statement["actor"] == {"objectType": "Agent", "name": REMOVED}
    catalog.define("sci.3")
    with pytest.raises(Rejected):
        retry_mapping(app, unmapped)
    with pytest.raises(Rejected, match="forgotten") as refused:
        send(app, statement(ROSA))
    assert [p.field for p in refused.value.problems] == ["actor"]
    assert len(app.recorder.select_notifications(1, 1000)) == stored
