"""Another tool sends xAPI statements: valid ones are stored exactly, those aligned to an outcome
become attempts, and the others are kept and reported with the reason."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from arc_evidence.application import EvidenceApplication
from arc_evidence.rules import Rejected
from arc_evidence.statements import (
    find_statement,
    received_all,
    retry_mapping,
    store_statements,
    unmapped_statements,
)
from arc_evidence.xapi import OUTCOME_EXTENSION, InvalidStatement, receive, supported_version
from arc_evidence.xapi_mapping import map_statement
from tests.support.evidence import PERCENT, FakeCatalog

NOW = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)
QUIZ = "https://quiz.example/activities/ratios-7"
CASE = "https://case.example/uri/6.RP.1"
STATEMENT: dict[str, Any] = {
    "actor": {
        "objectType": "Agent",
        "account": {"homePage": "https://sis.example", "name": "stu-1"},
    },
    "verb": {"id": "http://adlnet.gov/expapi/verbs/scored", "display": {"en-US": "scored"}},
    "object": {"id": QUIZ, "objectType": "Activity"},
    "result": {"score": {"raw": 3, "min": 1, "max": 4}},
    "context": {"extensions": {OUTCOME_EXTENSION: "math.rp.1"}},
    "timestamp": "2026-10-01T10:00:00Z",
}


def statement(**changes: Any) -> dict[str, Any]:
    found = copy.deepcopy(STATEMENT)
    for key, value in changes.items():
        if value is None:
            found.pop(key, None)
        else:
            found[key] = value
    return found


@pytest.fixture
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.define("math.rp.1", case_uri=CASE)
    catalog.define("math.pct", PERCENT, case_uri=QUIZ)
    return catalog


@pytest.fixture
def app(catalog: FakeCatalog) -> EvidenceApplication:
    return EvidenceApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, catalog=catalog, clock=lambda: NOW
    )


def fields(raw: Any) -> list[str]:
    with pytest.raises(InvalidStatement) as refused:
        receive(raw, NOW)
    return [p.field for p in refused.value.problems]


def test_the_lrs_completes_a_statement_as_it_stores_it() -> None:
    received = receive(statement(), NOW)
    assert received.body["stored"] == NOW.isoformat() and received.body["version"] == "1.0.0"
    assert received.body["authority"]["objectType"] == "Agent"
    assert received.body["timestamp"] == "2026-10-01T10:00:00Z"
    assert received.body["id"] == received.statement_id and received.voids is None
    without_time = receive(statement(timestamp=None), NOW)
    assert without_time.body["timestamp"] == NOW.isoformat()


def test_a_resent_statement_is_recognised_whatever_the_lrs_added() -> None:
    first = receive(statement(id="7b1f0e44-1c55-4e0d-9d6a-111111111111"), NOW)
    again = receive({**first.body, "stored": "2030-01-01T00:00:00Z"}, NOW)
    assert again.fingerprint == first.fingerprint


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([], ["statement"]),
        (statement(actor=None), ["actor"]),
        (statement(verb={"id": "scored"}), ["verb.id"]),
        (statement(object={"objectType": "Activity"}), ["object.id"]),
        (statement(id="not-a-uuid"), ["id"]),
        (statement(timestamp="yesterday"), ["timestamp"]),
        (statement(version="2.0.0"), ["version"]),
        (statement(grade="A"), ["grade"]),
        # Properties with odd names are named so that a person can find them.
        (statement(**{"": "A"}), ['statement[""]']),
        (statement(**{"the grade": "A"}), ['statement["the grade"]']),
        (statement(context={"extensions": {"": 1}}), ['context.extensions[""]']),
        (statement(context={"extensions": {"kind": 1}}), ["context.extensions.kind"]),
        (
            statement(context={"contextActivities": {"": [{"id": "x"}]}}),
            ['context.contextActivities[""][0].id'],
        ),
        (statement(result={"score": {"scaled": 1.5}}), ["result.score.scaled"]),
        (statement(result={"score": {"raw": 9, "min": 0, "max": 5}}), ["result.score.raw"]),
        (statement(actor={"mbox": "stu@example.org"}), ["actor.mbox"]),
        (statement(actor={"mbox": "mailto:a@b.c", "openid": "https://x.y/a"}), ["actor"]),
        (statement(attachments=[{"usageType": "x"}]), ["attachments"]),
        (
            statement(verb={"id": "http://adlnet.gov/expapi/verbs/voided"}),
            ["object.objectType"],
        ),
    ],
)
def test_an_invalid_statement_is_refused_naming_the_property(raw: Any, expected: list[str]) -> None:
    assert fields(raw) == expected


def test_versions_1_0_x_are_spoken() -> None:
    assert supported_version("1.0.3") and supported_version("1.0")
    assert not supported_version("0.95") and not supported_version(None)


def test_an_explicitly_aligned_statement_maps_to_its_outcome(catalog: FakeCatalog) -> None:
    mapped = map_statement(receive(statement(), NOW).body, catalog)
    assert mapped.problems == [] and mapped.draft is not None
    assert mapped.draft.student_id == "stu-1" and mapped.draft.source == "xapi"
    [entry] = mapped.draft.entries
    assert (entry.outcome_id, entry.score) == ("math.rp.1", Decimal(3))
    assert mapped.draft.assessment_ref == QUIZ
    assert mapped.draft.assessed_at == datetime(2026, 10, 1, 10, tzinfo=UTC)


def test_an_activity_aligned_by_case_uri_maps_and_a_fraction_lands_on_a_numeric_scale(
    catalog: FakeCatalog,
) -> None:
    body = receive(statement(context=None, result={"score": {"scaled": 0.8725}}), NOW).body
    mapped = map_statement(body, catalog)
    assert mapped.draft is not None
    assert [(e.outcome_id, e.score) for e in mapped.draft.entries] == [
        ("math.pct", Decimal("87.5"))
    ]


def test_a_category_context_activity_aligns_too(catalog: FakeCatalog) -> None:
    context = {"contextActivities": {"category": [{"id": CASE}]}}
    body = receive(statement(object={"id": "https://other.example/q1"}, context=context), NOW).body
    mapped = map_statement(body, catalog)
    assert mapped.draft is not None and mapped.draft.entries[0].outcome_id == "math.rp.1"


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"context": None, "object": {"id": "https://x.example/a"}}, "object.id", "not aligned"),
        ({"result": None}, "result.score", "no score"),
        ({"result": {"score": {"scaled": 0.75}}}, "result.score", "cannot be read"),
        ({"result": {"score": {"raw": 5}}}, "result.score", "not on the scale"),
        ({"actor": {"mbox": "mailto:s@example.org"}}, "actor", "account"),
        (
            {"context": {"extensions": {OUTCOME_EXTENSION: ["nope"]}}},
            f"context.extensions[{OUTCOME_EXTENSION}]",
            "unknown outcome 'nope'",
        ),
    ],
)
def test_a_statement_that_cannot_be_mapped_says_why(
    catalog: FakeCatalog, changes: dict[str, Any], field: str, reason: str
) -> None:
    mapped = map_statement(receive(statement(**changes), NOW).body, catalog)
    assert mapped.draft is None
    assert [p.field for p in mapped.problems] == [field]
    assert reason in mapped.problems[0].description


def test_stored_statements_become_attempts_and_stay_retrievable(app: EvidenceApplication) -> None:
    [statement_id] = store_statements(app, received_all([statement()], NOW))
    found = find_statement(app, statement_id)
    assert found is not None and found.status == "mapped" and found.student_id == "stu-1"
    [attempt] = app.student_history("stu-1")
    assert attempt.attempt.source == "xapi" and attempt.attempt.source_ref == statement_id
    assert found.attempt_ids == [attempt.attempt.attempt_id]
    assert found.statement["actor"] == STATEMENT["actor"]


def test_resending_is_harmless_but_a_different_statement_under_the_same_id_conflicts(
    app: EvidenceApplication,
) -> None:
    sid = "7b1f0e44-1c55-4e0d-9d6a-222222222222"
    store_statements(app, received_all([statement(id=sid)], NOW))
    store_statements(app, received_all([statement(id=sid)], NOW))
    assert len(app.student_history("stu-1")) == 1
    with pytest.raises(Rejected) as refused:
        store_statements(app, received_all([statement(id=sid, result={"score": {"raw": 4}})], NOW))
    assert refused.value.kind == "conflict"


def test_a_voiding_statement_voids_the_attempts_of_its_target(app: EvidenceApplication) -> None:
    [target] = store_statements(app, received_all([statement()], NOW))
    voiding = statement(
        verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
        object={"objectType": "StatementRef", "id": target},
        actor={"account": {"homePage": "https://quiz.example", "name": "quiz-admin"}},
        result=None,
        context=None,
    )
    [voider] = store_statements(app, received_all([voiding], NOW))
    found = find_statement(app, target)
    assert found is not None and found.status == "voided"
    [voided] = app.student_history("stu-1", include_voided=True)
    assert voided.void is not None and voided.void.voided_by == "quiz-admin"
    assert voider in voided.void.reason
    again = statement(
        verb={"id": "http://adlnet.gov/expapi/verbs/voided"},
        object={"objectType": "StatementRef", "id": voider},
    )
    with pytest.raises(Rejected, match="cannot be voided"):
        store_statements(app, received_all([again], NOW))


def test_unmapped_statements_are_listed_and_can_be_retried(
    app: EvidenceApplication, catalog: FakeCatalog
) -> None:
    unaligned = statement(context=None, object={"id": "https://new.example/unit-4"})
    ids = store_statements(app, received_all([statement(), unaligned, unaligned | {}], NOW))
    listed, cursor = unmapped_statements(app)
    assert [s.statement_id for s in listed] == ids[1:]
    assert listed[0].problems[0][0] == "object.id"
    assert unmapped_statements(app, after=cursor) == ([], cursor)
    with pytest.raises(Rejected, match="not aligned"):
        retry_mapping(app, ids[1])
    catalog.define("math.unit4", case_uri="https://new.example/unit-4")
    assert retry_mapping(app, ids[1]).status == "mapped"
    assert [s.statement_id for s in unmapped_statements(app)[0]] == [ids[2]]
    with pytest.raises(Rejected) as twice:
        retry_mapping(app, ids[1])
    assert twice.value.kind == "conflict"


def test_a_batch_of_statements_is_all_or_nothing(app: EvidenceApplication) -> None:
    with pytest.raises(InvalidStatement) as refused:
        received_all([statement(), statement(verb=None)], NOW)
    assert [p.field for p in refused.value.problems] == ["[1].verb"]
    assert app.recorder.max_notification_id() is None
