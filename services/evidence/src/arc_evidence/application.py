"""Evidence use cases: record (one item or a class batch), void, supersede, read a history.

Every write goes through :meth:`EvidenceApplication.commit`: it loads the aggregates it needs,
checks, and saves everything (attempts, voids, the idempotency record) in ONE transaction. If
another writer appended to the same student first, the save fails on the aggregate version and
the whole request is re-read, re-checked and retried, so nothing is lost and nothing is counted
twice. Every stored change carries its ``actor``, asked of the ``actor`` source the application
was made with (in the service: the authenticated request being served).

Free text about a student (comments, correction and void reasons) is sealed with the student's
key before it is recorded and opened when read (``arc_platform.erasure``); nothing is recorded
about a forgotten student.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from arc_evidence.domain import (
    Actor,
    AttemptState,
    IdempotencyRecord,
    StudentEvidence,
    Void,
    XapiStatement,
    idempotency_aggregate_id,
    statement_aggregate_id,
    student_aggregate_id,
)
from arc_evidence.lookups import MemoCatalog, NoCatalog
from arc_evidence.rules import (
    AttemptDraft,
    CatalogLookup,
    Checks,
    NewAttempt,
    Problem,
    Rejected,
    ScoreEntry,
    plan_batch,
    prepare,
)
from arc_platform.erasure import Forgotten, PersonalData, PersonSealer

#: Rows of attempt ids: one row per item (or batch row), one id per outcome.
AttemptIds = tuple[tuple[str, ...], ...]
MAX_KEY = 200


def utc_now() -> datetime:
    return datetime.now(UTC)


def no_actor() -> Actor | None:
    return None


def new_attempt_id() -> str:
    return str(uuid4())


class Contention(RuntimeError):
    """Other writers kept changing the same students; the request recorded nothing and can be
    retried (with its idempotency key, safely)."""


@dataclass(frozen=True)
class Written:
    attempt_ids: AttemptIds
    position: int  # notification id reached in the evidence store (0 for a dry run)
    replayed: bool = False  # the idempotency key was already used: nothing new was written
    dry_run: bool = False


@dataclass(frozen=True)
class Correction:
    """A corrected score for an attempt; what is None is copied from the original."""

    reason: str
    recorded_by: str
    status: str = "scored"
    score: Decimal | None = None
    assessed_at: datetime | None = None
    comment: str | None = None


class Session:
    """The aggregates one attempt at a request loaded or created; saved together."""

    def __init__(
        self, app: EvidenceApplication, checks: Checks, actor: Actor | None = None
    ) -> None:
        self.app = app
        self.checks = checks
        #: Who makes the request: stored with every event it records.
        self.actor = actor
        self.touched: dict[UUID, Aggregate] = {}
        self._sealers: dict[str, PersonSealer | None] = {}

    def student(self, student_id: str) -> StudentEvidence:
        """The student's evidence, opened if they have none yet."""
        found = self.existing_student(student_id)
        if found is None:
            found = StudentEvidence(student_id=student_id)
            self.touched[found.id] = found
        return found

    def existing_student(self, student_id: str) -> StudentEvidence | None:
        self._sealer(student_id)  # nothing is written about a forgotten student
        found = self._load(student_aggregate_id(student_id))
        return found if isinstance(found, StudentEvidence) else None

    def statement(self, statement_id: str) -> XapiStatement | None:
        found = self._load(statement_aggregate_id(statement_id))
        return found if isinstance(found, XapiStatement) else None

    def add(self, aggregate: Aggregate) -> None:
        self.touched[aggregate.id] = aggregate

    def sealed(self, new: NewAttempt) -> NewAttempt:
        """``new`` with its free text sealed with its student's key."""
        seal = self._sealer(new.student_id)
        if seal is None:
            return new
        return dataclasses.replace(
            new, comment=seal(new.comment), correction_reason=seal(new.correction_reason)
        )

    def sealed_reason(self, student_id: str, reason: str) -> str:
        """A void's reason, sealed (an empty one is left for the rules to refuse)."""
        seal = self._sealer(student_id)
        if seal is None or not reason.strip():
            return reason
        return seal.text(reason.strip())

    def opened(self, new: NewAttempt) -> NewAttempt:
        return opened_attempt(self.app.personal, new)

    def prepare_sealers(self, student_ids: Iterable[str]) -> None:
        """Look up the keys of a batch's students together (not one vault query each)."""
        missing = sorted({s for s in student_ids if s not in self._sealers})
        personal = self.app.personal
        if not missing:
            return
        if personal is None:
            self._sealers.update(dict.fromkeys(missing))
            return
        try:
            self._sealers.update(personal.writers(missing))
        except Forgotten as forgotten:
            raise Rejected([Problem("student_id", str(forgotten))]) from None

    def _sealer(self, student_id: str) -> PersonSealer | None:
        if student_id not in self._sealers:
            personal = self.app.personal
            try:
                self._sealers[student_id] = personal.writer(student_id) if personal else None
            except Forgotten as forgotten:
                raise Rejected([Problem("student_id", str(forgotten))]) from None
        return self._sealers[student_id]

    def _load(self, aggregate_id: UUID) -> Aggregate | None:
        if aggregate_id not in self.touched:
            try:
                self.touched[aggregate_id] = self.app.repository.get(aggregate_id)
            except AggregateNotFoundError:
                return None
        return self.touched[aggregate_id]


Work = Callable[[Session], AttemptIds]


class EvidenceApplication(Application[UUID]):
    name = "evidence"
    #: Students' histories stay in memory instead of being replayed on every write. The cache
    #: hands out its own objects (no deep copy: that cost more than a replay), so whatever a
    #: request changed but did not save is evicted (see ``commit``); writers take turns
    #: (``_writing``). Nor is a cached history fast-forwarded on each load (a store query per
    #: student per request): one another replica has since extended fails to save on its
    #: version, is evicted and re-read.
    env = {
        "AGGREGATE_CACHE_MAXSIZE": "20000",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
        "AGGREGATE_CACHE_FASTFORWARD": "n",
    }
    #: Attempts at a request when other writers keep appending to the same students.
    max_conflict_retries = 40
    #: What loads and collects the aggregates of one attempt at a request.
    session_class: type[Session] = Session

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        catalog: CatalogLookup | None = None,
        require_roster: bool = False,
        clock: Callable[[], datetime] = utc_now,
        actor: Callable[[], Actor | None] = no_actor,
        personal: PersonalData | None = None,
    ) -> None:
        super().__init__(env)
        # Writers in one process take turns: a class batch touches 35 students, and concurrent
        # batches of the same class would otherwise mostly retry on each other's conflicts.
        # Other processes sharing the store still meet optimistic concurrency (and retry).
        self._writing = threading.Lock()
        #: Requests waiting for the writer's turn (see ``commit``).
        self._waiting: list[_Ticket] = []
        self._waiting_lock = threading.Lock()
        self.catalog: CatalogLookup = catalog or NoCatalog()
        self.require_roster = require_roster
        self.clock = clock
        self.actor = actor
        #: Seals and opens free text about students (None: stored as given, e.g. in tests).
        self.personal = personal

    # Writes ----------------------------------------------------------------------------------

    def record(
        self,
        draft: AttemptDraft,
        *,
        idempotency_key: str | None = None,
        traceparent: str = "",
        dry_run: bool = False,
    ) -> Written:
        """One student's item: one attempt per outcome scored. Problems are at row 0."""
        return self.record_batch(
            [draft], idempotency_key=idempotency_key, traceparent=traceparent, dry_run=dry_run
        )

    def record_batch(
        self,
        drafts: Sequence[AttemptDraft],
        *,
        section_id: str | None = None,
        idempotency_key: str | None = None,
        traceparent: str = "",
        dry_run: bool = False,
    ) -> Written:
        """Every row or none: one bad row records nothing, and every bad row is reported."""

        def work(session: Session) -> AttemptIds:
            checks = session.checks
            problems: list[Problem] = []
            if section_id is not None:
                section = checks.catalog.section(section_id)
                if section is None:
                    raise Rejected([Problem("section_id", f"unknown section {section_id!r}")])
                checks = dataclasses.replace(checks, section=section)
            rows, problems = plan_batch(drafts, checks, new_attempt_id)
            session.prepare_sealers(new.student_id for attempts in rows for new in attempts)
            for row, attempts in enumerate(rows):
                for entry, new in enumerate(attempts):
                    student = session.student(new.student_id)
                    problems.extend(p.at_row(row) for p in student.link_problems(new, entry))
            if problems:
                raise Rejected(problems)
            for attempts in rows:
                for new in attempts:
                    sealed = session.sealed(new)
                    session.student(new.student_id).record(sealed, traceparent, session.actor)
            return tuple(tuple(a.attempt_id for a in attempts) for attempts in rows)

        # What was asked, to tell a retry from a different request: only with a key to check.
        request = (
            {"section_id": section_id, "rows": [dataclasses.asdict(d) for d in drafts]}
            if idempotency_key is not None
            else None
        )
        return self.commit("record", request, idempotency_key, work, dry_run=dry_run)

    def void(
        self,
        student_id: str,
        attempt_id: str,
        reason: str,
        voided_by: str,
        *,
        idempotency_key: str | None = None,
        traceparent: str = "",
    ) -> Written:
        """The attempt no longer counts; it stays in the history with the reason and actor."""

        def work(session: Session) -> AttemptIds:
            student = session.existing_student(student_id) or StudentEvidence(student_id=student_id)
            sealed = session.sealed_reason(student_id, reason)
            student.void(
                attempt_id, sealed, voided_by, session.checks.now, traceparent, session.actor
            )
            session.add(student)
            return ((attempt_id,),)

        request = [student_id, attempt_id, reason, voided_by]
        return self.commit("void", request, idempotency_key, work)

    def supersede(
        self,
        student_id: str,
        attempt_id: str,
        correction: Correction,
        *,
        idempotency_key: str | None = None,
        traceparent: str = "",
    ) -> Written:
        """Record a corrected attempt that replaces the original (same student and outcome);
        the original stays in the history, marked superseded, and no longer counts."""

        def work(session: Session) -> AttemptIds:
            student = session.existing_student(student_id) or StudentEvidence(student_id=student_id)
            problems = student.correction_problems(attempt_id)
            if problems:
                found = attempt_id in student.attempts
                raise Rejected(problems, "conflict" if found else "not_found")
            original = session.opened(student.attempts[attempt_id].attempt)
            draft = corrected_draft(original, correction)
            # A correction fixes evidence already given: the student need not be enrolled now.
            checks = dataclasses.replace(session.checks, require_roster=False)
            no_reason = [] if correction.reason.strip() else [_NO_REASON]
            try:
                [new] = prepare(draft, checks, new_attempt_id)
            except Rejected as rejected:
                raise Rejected([*rejected.problems, *no_reason]) from None
            if no_reason:
                raise Rejected(no_reason)
            new = dataclasses.replace(
                new, supersedes=attempt_id, correction_reason=correction.reason.strip()
            )
            student.record(session.sealed(new), traceparent, session.actor)
            return ((new.attempt_id,),)

        request = {
            "student_id": student_id,
            "attempt_id": attempt_id,
            "correction": dataclasses.asdict(correction),
        }
        return self.commit("supersede", request, idempotency_key, work)

    # Reads -----------------------------------------------------------------------------------

    def student_history(
        self,
        student_id: str,
        outcome_id: str | None = None,
        assessed_from: datetime | None = None,
        assessed_until: datetime | None = None,
        include_voided: bool = False,
    ) -> list[AttemptState]:
        try:
            # From the store, not the cache: only what was committed, whoever wrote it.
            student: StudentEvidence = self.repository.get(
                student_aggregate_id(student_id), version=sys.maxsize
            )
        except AggregateNotFoundError:
            return []
        found = student.history(outcome_id, assessed_from, assessed_until, include_voided)
        return [opened_state(self.personal, state) for state in found]

    # The one way to write --------------------------------------------------------------------

    def commit(
        self,
        operation: str,
        request: Any,
        idempotency_key: str | None,
        work: Work,
        *,
        dry_run: bool = False,
    ) -> Written:
        """Run ``work`` and save what it touched in one transaction (with the idempotency
        record when a key is given); on a concurrent write to the same aggregates, start over.

        Requests arriving together are committed together (group commit): whichever request
        gets the writer's turn runs every request waiting by then, one after another on the
        same loaded histories, and saves them in one transaction. A refused request leaves
        nothing behind; each request still gets its own attempt ids and store position."""
        key = _checked_key(idempotency_key)
        ticket = _Ticket(
            key,
            request_fingerprint(operation, request) if key is not None else "",
            work,
            self.actor(),
            operation,
        )
        if dry_run:
            with self._writing:
                return self._dry_run(ticket)
        with self._waiting_lock:
            self._waiting.append(ticket)
        with self._writing:
            if not ticket.finished:
                with self._waiting_lock:
                    group, self._waiting = self._waiting, []
                self._commit_group(group)
        return ticket.outcome()

    def _dry_run(self, ticket: _Ticket) -> Written:
        session = self._new_session(ticket.actor)
        try:
            if ticket.key is not None:
                replayed = self._replay(ticket.key, ticket.fingerprint)
                if replayed is not None:
                    return replayed
            return Written(ticket.work(session), 0, dry_run=True)
        finally:
            self._forget(session)

    def _new_session(self, actor: Actor | None) -> Session:
        checks = Checks(MemoCatalog(self.catalog), self.clock(), self.require_roster)
        return self.session_class(self, checks, actor)

    def _commit_group(self, group: list[_Ticket]) -> None:
        for attempt in range(self.max_conflict_retries):
            session = self._new_session(None)
            records: dict[str, IdempotencyRecord] = {}
            try:
                for ticket in group:
                    ticket.reset()
                    self._run(ticket, session, records)
                recordings = self.save(*session.touched.values(), *records.values())
            except (IntegrityError, _Stale):  # another process wrote first: re-read, run again
                self._forget(session)
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                continue
            except _Tangled as tangled:
                self._forget(session)
                if len(group) == 1:
                    group[0].fail(tangled.cause)
                else:  # one refused request changed what others use: run them one by one
                    for ticket in group:
                        self._commit_group([ticket])
                return
            except Exception as failed:  # e.g. the store is unavailable: nothing was saved
                self._forget(session)
                for ticket in group:
                    ticket.fail(failed)
                return
            reached = {id(r.domain_event): r.notification.id for r in recordings}
            last = recordings[-1].notification.id if recordings else None
            for ticket in group:
                ticket.finish(reached, last or self.recorder.max_notification_id() or 0)
            return
        for ticket in group:
            ticket.fail(
                Contention(
                    f"{ticket.operation}: gave up after {self.max_conflict_retries} "
                    "concurrent-write conflicts"
                )
            )

    def _run(
        self, ticket: _Ticket, session: Session, records: dict[str, IdempotencyRecord]
    ) -> None:
        """One request of a group, on the group's session: its result, or its refusal with
        what it changed taken back."""
        if ticket.key is not None:
            try:
                earlier = records.get(ticket.key)
                if earlier is not None:  # the same key earlier in this group
                    ticket.replayed_ids = _same_request(earlier, ticket.key, ticket.fingerprint)
                    return
                replayed = self._replay(ticket.key, ticket.fingerprint)
            except Rejected as refused:
                ticket.error = refused
                return
            if replayed is not None:
                ticket.replayed_ids = replayed.attempt_ids
                return
        session.actor = ticket.actor
        before = {aid: len(a.pending_events) for aid, a in session.touched.items()}
        try:
            ticket.attempt_ids = ticket.work(session)
        except Exception as refused:
            if isinstance(refused, Rejected) and any(map(self._behind, session.touched.values())):
                # Refused on a cached history another replica has since extended: judge it
                # again on the stored one.
                raise _Stale from refused
            for aid in [aid for aid in session.touched if aid not in before]:
                # Loaded or opened by this request only: let it go, and if it was changed,
                # make sure no changed copy stays in the cache.
                aggregate = session.touched.pop(aid)
                if aggregate.pending_events and self.repository.cache is not None:
                    with contextlib.suppress(KeyError):
                        self.repository.cache.get(aid, evict=True)
            if any(len(session.touched[aid].pending_events) != n for aid, n in before.items()):
                raise _Tangled(refused) from refused
            ticket.error = refused
            return
        ticket.events = [
            event
            for aid, aggregate in session.touched.items()
            for event in aggregate.pending_events[before.get(aid, 0) :]
        ]
        if ticket.key is not None:
            result = {"attempt_ids": [list(row) for row in ticket.attempt_ids]}
            records[ticket.key] = IdempotencyRecord(
                key=ticket.key, fingerprint=ticket.fingerprint, result=result
            )

    def _behind(self, aggregate: Aggregate) -> bool:
        """Whether the store holds events of ``aggregate`` newer than the ones it was built from
        (an opened one: whether another writer opened it first)."""
        built_from = aggregate.version - len(aggregate.pending_events)
        return bool(self.recorder.select_events(aggregate.id, gt=built_from, limit=1))

    def _forget(self, session: Session) -> None:
        """Evict what a request loaded: it may hold changes that were not saved."""
        cache = self.repository.cache
        if cache is not None:
            for aggregate_id in session.touched:
                with contextlib.suppress(KeyError):
                    cache.get(aggregate_id, evict=True)

    def _replay(self, key: str, fingerprint: str) -> Written | None:
        try:
            record: IdempotencyRecord = self.repository.get(idempotency_aggregate_id(key))
        except AggregateNotFoundError:
            return None
        attempt_ids = _same_request(record, key, fingerprint)
        return Written(attempt_ids, self.recorder.max_notification_id() or 0, replayed=True)


class _Stale(Exception):
    """A request was refused on a cached history that is behind the store."""


class _Tangled(Exception):
    """A request failed after changing histories that other requests of its group share."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


@dataclass
class _Ticket:
    """One request waiting for (or done by) a group commit."""

    key: str | None
    fingerprint: str
    work: Work
    actor: Actor | None
    operation: str
    attempt_ids: AttemptIds = ()
    replayed_ids: AttemptIds | None = None
    events: list[Any] = dataclasses.field(default_factory=list)
    error: BaseException | None = None
    written: Written | None = None

    @property
    def finished(self) -> bool:
        return self.written is not None or self.error is not None

    def reset(self) -> None:
        self.attempt_ids, self.replayed_ids, self.events, self.error = (), None, [], None

    def fail(self, error: BaseException) -> None:
        self.error = error

    def finish(self, reached: dict[int, int], last: int) -> None:
        if self.error is not None:
            return
        if self.replayed_ids is not None:
            self.written = Written(self.replayed_ids, last, replayed=True)
            return
        own = [reached[id(event)] for event in self.events if id(event) in reached]
        self.written = Written(self.attempt_ids, max(own, default=last))

    def outcome(self) -> Written:
        if self.error is not None:
            raise self.error
        assert self.written is not None
        return self.written


def _same_request(record: IdempotencyRecord, key: str, fingerprint: str) -> AttemptIds:
    if record.fingerprint != fingerprint:
        raise Rejected(
            [Problem("idempotency_key", f"{key!r} was already used for a different request")],
            "conflict",
        )
    return tuple(tuple(row) for row in record.result["attempt_ids"])


_NO_REASON = Problem("reason", "a correction needs a reason")


def opened_attempt(personal: PersonalData | None, new: NewAttempt) -> NewAttempt:
    """``new`` with its free text readable ("[removed]" once its student is forgotten)."""
    if personal is None:
        return new
    return dataclasses.replace(
        new,
        comment=personal.open(new.comment),
        correction_reason=personal.open(new.correction_reason),
    )


def opened_state(personal: PersonalData | None, state: AttemptState) -> AttemptState:
    if personal is None:
        return state
    void = state.void
    if void is not None:
        void = Void(personal.open(void.reason) or "", void.voided_by, void.voided_at)
    return dataclasses.replace(state, attempt=opened_attempt(personal, state.attempt), void=void)


def corrected_draft(original: NewAttempt, correction: Correction) -> AttemptDraft:
    """The original attempt with the corrected score (and any other field given)."""
    return AttemptDraft(
        student_id=original.student_id,
        entries=(
            ScoreEntry(
                outcome_id=original.outcome_id,
                score=correction.score,
                status=correction.status,
                retake_of=original.retake_of,
                attempt_number=original.attempt_number,
            ),
        ),
        assessed_at=correction.assessed_at or original.assessed_at,
        recorded_by=correction.recorded_by,
        assessment_ref=original.assessment_ref,
        assessment_kind=original.assessment_kind,
        weight=original.weight,
        tags=original.tags,
        comment=correction.comment if correction.comment is not None else original.comment,
        artifact_url=original.artifact_url,
    )


def _checked_key(key: str | None) -> str | None:
    if key is None or not key.strip():
        return None
    if len(key) > MAX_KEY:
        raise Rejected([Problem("idempotency_key", f"must be at most {MAX_KEY} characters")])
    return key.strip()


def request_fingerprint(operation: str, request: Any) -> str:
    """A stable digest of what was asked, to tell a retry from a different request."""
    text = json.dumps([operation, request], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
