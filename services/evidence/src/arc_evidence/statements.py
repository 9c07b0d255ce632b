"""xAPI use cases: store statements (and the attempts and voids they carry) in one transaction,
read them back, list the ones that could not be mapped, and retry those. A statement's personal
parts are stored sealed (:mod:`arc_evidence.xapi_privacy`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.utils import get_topic

from arc_evidence.application import EvidenceApplication, Session, new_attempt_id
from arc_evidence.domain import XapiStatement, statement_aggregate_id
from arc_evidence.rules import Problem, Rejected, prepare
from arc_evidence.xapi import InvalidStatement, ReceivedStatement, receive
from arc_evidence.xapi_mapping import agent_name, map_statement, statement_path
from arc_evidence.xapi_privacy import open_statement, seal_statement
from arc_platform.erasure import Forgotten, PersonalData

MAX_STATEMENTS = 500


@dataclass(frozen=True)
class StoredStatement:
    statement_id: str
    statement: dict[str, Any]
    status: str  # mapped, unmapped, voided, voiding
    student_id: str | None
    attempt_ids: list[str]
    problems: list[tuple[str, str]]
    stored_at: datetime
    position: int = 0  # in the evidence store (unmapped listing cursor)


def received_all(
    raws: Sequence[Any], now: datetime, statement_id: str | None = None, listed: bool = True
) -> list[ReceivedStatement]:
    """Every statement checked; problems are named ``[index].property`` if ``listed``."""
    if not raws:
        raise InvalidStatement([Problem("statements", "at least one statement is required")])
    if len(raws) > MAX_STATEMENTS:
        raise InvalidStatement([Problem("statements", f"at most {MAX_STATEMENTS} per request")])
    problems: list[Problem] = []
    received: list[ReceivedStatement] = []
    seen: set[str] = set()
    for index, raw in enumerate(raws):
        prefix = f"[{index}]." if listed else ""
        try:
            statement = receive(raw, now, statement_id)
        except InvalidStatement as exc:
            problems.extend(Problem(prefix + p.field, p.description) for p in exc.problems)
            continue
        if statement.statement_id in seen:
            problems.append(Problem(prefix + "id", "appears twice in this request"))
        seen.add(statement.statement_id)
        received.append(statement)
    if problems:
        raise InvalidStatement(problems)
    return received


def store_statements(
    app: EvidenceApplication, statements: Sequence[ReceivedStatement], traceparent: str = ""
) -> list[str]:
    """All statements or none; re-sending an identical statement changes nothing, a different
    one with a stored id is a conflict (:class:`Rejected`, kind ``conflict``)."""

    def work(session: Session) -> tuple[tuple[str, ...], ...]:
        for statement in statements:
            _store(session, statement, traceparent)
        return (tuple(s.statement_id for s in statements),)

    request = [s.fingerprint for s in statements]
    app.commit("xapi", request, None, work)
    return [s.statement_id for s in statements]


def _store(session: Session, statement: ReceivedStatement, traceparent: str) -> None:
    existing = session.statement(statement.statement_id)
    if existing is not None:
        if existing.fingerprint != statement.fingerprint:
            description = f"statement {statement.statement_id} is stored with different content"
            raise Rejected([Problem("id", description)], "conflict")
        return
    target = session.statement(statement.voids) if statement.voids else None
    if target is not None and target.voids is not None:
        raise Rejected([Problem("object.id", "a voiding statement cannot be voided")])
    try:
        sealed = seal_statement(statement.body, session.app.personal)
    except Forgotten as forgotten:
        raise Rejected([Problem("actor", str(forgotten))]) from None
    stored = XapiStatement(
        statement_id=statement.statement_id,
        statement=sealed,
        fingerprint=statement.fingerprint,
        stored_at=session.checks.now,
        voids=statement.voids,
        actor=session.actor,
    )
    session.add(stored)
    if statement.voids is None:
        _map(session, stored, statement.body, traceparent)
    elif target is None:
        description = f"voids statement {statement.voids}, which is not stored here"
        stored.mapping_failed([["object.id", description]])
    elif target.voided_by is None:
        _void(session, target, statement, traceparent)


def _map(session: Session, stored: XapiStatement, body: dict[str, Any], traceparent: str) -> None:
    """Record the statement's attempts, or note why it has none (never an error)."""
    mapped = map_statement(body, session.checks.catalog)
    problems = mapped.problems
    if mapped.draft is not None:
        try:
            attempts = prepare(mapped.draft, session.checks, new_attempt_id)
        except Rejected as rejected:
            problems = [
                Problem(statement_path(p, mapped.explicit_outcomes), p.description)
                for p in rejected.problems
            ]
        else:
            student = session.student(mapped.draft.student_id)
            for new in attempts:
                student.record(session.sealed(new), traceparent, session.actor)
            stored.mapped(student.student_id, [a.attempt_id for a in attempts])
            return
    stored.mapping_failed([[p.field, p.description] for p in problems])


def _void(
    session: Session, target: XapiStatement, voiding: ReceivedStatement, traceparent: str
) -> None:
    target.voided(voiding.statement_id)
    if target.student_id is None:
        return
    student = session.existing_student(target.student_id)
    assert student is not None, "a mapped statement's student has evidence"
    actor = agent_name(voiding.body.get("actor")) or "xapi"
    for attempt_id in target.attempt_ids:
        if student.attempts[attempt_id].counts:
            reason = f"voided by xAPI statement {voiding.statement_id}"
            student.void(attempt_id, reason, actor, session.checks.now, traceparent, session.actor)
    session.add(student)


def find_statement(app: EvidenceApplication, statement_id: str) -> StoredStatement | None:
    try:
        stored: XapiStatement = app.repository.get(statement_aggregate_id(statement_id))
    except AggregateNotFoundError:
        return None
    return _view(stored, app.personal)


def _view(
    stored: XapiStatement, personal: PersonalData | None, position: int = 0
) -> StoredStatement:
    return StoredStatement(
        statement_id=stored.statement_id,
        statement=open_statement(stored.statement, personal),
        status=stored.status,
        student_id=stored.student_id,
        attempt_ids=list(stored.attempt_ids),
        problems=list(stored.problems),
        stored_at=stored.stored_at,
        position=position,
    )


def unmapped_statements(
    app: EvidenceApplication, after: int = 0, limit: int = 100
) -> tuple[list[StoredStatement], int]:
    """Statements that became no attempt (and were not mapped or voided since), oldest first,
    from position ``after``; returns them and the position to continue from."""
    topic = get_topic(XapiStatement.MappingFailed)
    found: list[StoredStatement] = []
    position = after
    while len(found) < limit:
        notifications = app.recorder.select_notifications(
            position, limit, topics=[topic], inclusive_of_start=False
        )
        if not notifications:
            break
        for notification in notifications:
            position = notification.id
            stored: XapiStatement = app.repository.get(UUID(str(notification.originator_id)))
            if stored.status == "unmapped":
                found.append(_view(stored, app.personal, notification.id))
                if len(found) == limit:
                    break
    return found, position


def retry_mapping(
    app: EvidenceApplication, statement_id: str, traceparent: str = ""
) -> StoredStatement:
    """Map an unmapped statement again (e.g. once its outcome or student is known). Raises
    :class:`Rejected` with the reasons if it still cannot be mapped; nothing is recorded then."""

    def work(session: Session) -> tuple[tuple[str, ...], ...]:
        stored = session.statement(statement_id)
        if stored is None:
            raise Rejected([Problem("statement_id", f"no statement {statement_id}")], "not_found")
        if stored.status != "unmapped" or stored.voids is not None:
            description = f"statement {statement_id} is {stored.status}, not unmapped"
            raise Rejected([Problem("statement_id", description)], "conflict")
        _map(session, stored, open_statement(stored.statement, session.app.personal), traceparent)
        if not stored.is_mapped:
            raise Rejected([Problem(f, d) for f, d in stored.problems])
        return (tuple(stored.attempt_ids),)

    app.commit("xapi-retry", statement_id, None, work)
    found = find_statement(app, statement_id)
    assert found is not None
    return found
