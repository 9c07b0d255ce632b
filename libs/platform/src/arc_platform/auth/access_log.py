"""The access log: every decision on a student's records (allowed reads and refusals), kept in
the service's own database for auditors.

The access guard writes one row per request about a student; a handler that returns several
students' records (a class list, an export) calls :meth:`AccessLog.record_reads` with the ids it
returned. Rows are never updated or deleted by the services.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from arc_platform.auth.principal import RequestContext

metadata = sa.MetaData()
access_log = sa.Table(
    "access_log",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("roles", sa.String(200), nullable=False),
    sa.Column("client_id", sa.String(200), nullable=False),
    sa.Column("client_address", sa.String(200), nullable=False),
    sa.Column("transport", sa.String(10), nullable=False),
    sa.Column("endpoint", sa.String(300), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("student_id", sa.String(200), nullable=True, index=True),
    sa.Column("allowed", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(300), nullable=False),
)

_INSERT = sa.insert(access_log)


@dataclass(frozen=True)
class AccessEntry:
    at: datetime
    subject: str
    roles: str
    client_id: str
    client_address: str
    transport: str
    endpoint: str
    action: str
    student_id: str | None
    allowed: bool
    reason: str


class _Pending:
    """One call's rows, waiting for the transaction that writes them."""

    def __init__(self, rows: Sequence[Mapping[str, object]]) -> None:
        self.rows = rows
        self.written = False
        self.error: BaseException | None = None


class AccessLog:
    """Rows are written before the call is answered. Calls arriving together share one
    transaction (group commit): whichever caller gets the writer's turn writes every row
    waiting by then, so a busy service pays one commit for many calls, not one each."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)
        self._waiting: list[_Pending] = []
        self._waiting_lock = threading.Lock()
        self._writer = threading.Lock()

    def record(
        self,
        context: RequestContext,
        action: str,
        student_ids: list[str | None],
        allowed: bool,
        reason: str,
    ) -> None:
        self.record_decisions(
            context, [(action, student, allowed, reason) for student in student_ids]
        )

    def record_decisions(
        self,
        context: RequestContext,
        decisions: list[tuple[str, str | None, bool, str]],
    ) -> None:
        """Rows of (action, student, allowed, reason) for one call, in one transaction."""
        principal = context.principal
        rows = [
            {
                "at": context.at,
                "subject": principal.subject,
                "roles": ",".join(sorted(principal.roles)),
                "client_id": principal.client_id[:200],
                "client_address": context.client_address[:200],
                "transport": context.transport,
                "endpoint": context.endpoint[:300],
                "action": action,
                "student_id": student,
                "allowed": allowed,
                "reason": reason[:300],
            }
            for action, student, allowed, reason in decisions
        ]
        if rows:
            self._write(_Pending(rows))

    def _write(self, mine: _Pending) -> None:
        with self._waiting_lock:
            self._waiting.append(mine)
        with self._writer:
            if not mine.written and mine.error is None:
                with self._waiting_lock:
                    group, self._waiting = self._waiting, []
                try:
                    with self.engine.begin() as conn:
                        conn.execute(_INSERT, [r for p in group for r in p.rows])
                except BaseException as failed:
                    for pending in group:
                        pending.error = failed
                else:
                    for pending in group:
                        pending.written = True
        if mine.error is not None:
            raise mine.error

    def record_reads(self, context: RequestContext, student_ids: list[str]) -> None:
        """For a handler that returned several students' records at once."""
        self.record(context, "read_student", list(student_ids), True, "returned in a list")

    def entries(
        self,
        *,
        student_id: str | None = None,
        subject: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AccessEntry]:
        """Newest first."""
        query = sa.select(access_log).order_by(access_log.c.id.desc()).limit(limit)
        if student_id is not None:
            query = query.where(access_log.c.student_id == student_id)
        if subject is not None:
            query = query.where(access_log.c.subject == subject)
        if since is not None:
            query = query.where(access_log.c.at >= since)
        with self.engine.connect() as conn:
            found = []
            for row in conn.execute(query):
                values = {k: v for k, v in row._mapping.items() if k != "id"}
                if values["at"].tzinfo is None:  # SQLite keeps no zone: rows are written in UTC
                    values["at"] = values["at"].replace(tzinfo=UTC)
                found.append(AccessEntry(**values))
            return found
