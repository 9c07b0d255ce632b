"""Many teachers record evidence for the same student at the same moment: each write meets
optimistic concurrency control on the student's history and is retried, so nothing is lost and
nothing is doubled (SQLite file and PostgreSQL, two application instances on one store)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from eventsourcing.application import AggregateNotFoundError

from arc_evidence.__main__ import EvidenceSettings, open_store
from arc_evidence.application import EvidenceApplication, Session
from arc_evidence.domain import StudentEvidence, student_aggregate_id
from arc_evidence.rules import AttemptDraft, Rejected, ScoreEntry
from tests.support.evidence import FakeCatalog

YESTERDAY = datetime.now(UTC) - timedelta(days=1)


@pytest.fixture
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.define("sci.1")
    return catalog


@pytest.fixture
def stores(
    tmp_path: Path, database_url: str | None, catalog: FakeCatalog
) -> Iterator[tuple[EvidenceApplication, EvidenceApplication]]:
    """Two application instances (as two evidence replicas would be) on the same store."""
    settings = EvidenceSettings(data_dir=tmp_path, database_url=database_url)
    first, second = open_store(settings, None), open_store(settings, None)
    for app in (first, second):
        app.catalog = catalog
    yield first, second
    first.close()
    second.close()


def item(score: int, student: str = "stu-1") -> AttemptDraft:
    return AttemptDraft(student, (ScoreEntry("sci.1", Decimal(score)),), YESTERDAY, "t-ada")


def test_concurrent_writers_to_one_student_lose_nothing(
    stores: tuple[EvidenceApplication, EvidenceApplication],
) -> None:
    first, second = stores
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit((first, second)[n % 2].record, item(1 + n % 4)) for n in range(80)]
        written = [f.result() for f in futures]
    ids = [w.attempt_ids[0][0] for w in written]
    history = first.student_history("stu-1")
    assert sorted(s.attempt.attempt_id for s in history) == sorted(ids)
    assert len(set(ids)) == 80
    positions = [w.position for w in written]
    assert len(set(positions)) == 80, "each write reached its own place in the store"


def test_a_writer_that_read_a_stale_history_retries_on_the_new_one(
    stores: tuple[EvidenceApplication, EvidenceApplication],
) -> None:
    first, second = stores
    [[original]] = first.record(item(2)).attempt_ids
    sneaked: list[str] = []

    class OvertakenOnce(Session):
        """Another replica records for the same student right after this one has read."""

        def student(self, student_id: str) -> StudentEvidence:
            found = super().student(student_id)
            if not sneaked:
                sneaked.extend(second.record(item(4)).attempt_ids[0])
            return found

    first.session_class = OvertakenOnce
    retake = AttemptDraft(
        "stu-1", (ScoreEntry("sci.1", Decimal(3), retake_of=original),), YESTERDAY, "t-ada"
    )
    [[retaken]] = first.record(retake).attempt_ids
    history = first.student_history("stu-1")
    assert [s.attempt.attempt_id for s in history] == [original, sneaked[0], retaken]
    assert history[2].attempt.attempt_number == 2


def test_the_same_request_sent_twice_at_once_is_recorded_once(
    stores: tuple[EvidenceApplication, EvidenceApplication],
) -> None:
    first, second = stores
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [
            pool.submit((first, second)[n % 2].record, item(3), idempotency_key="retry-me")
            for n in range(12)
        ]
        written = [f.result() for f in futures]
    assert len({w.attempt_ids for w in written}) == 1
    assert sum(not w.replayed for w in written) == 1
    assert len(first.student_history("stu-1")) == 1


def test_refused_requests_among_concurrent_ones_leave_nothing_behind(
    stores: tuple[EvidenceApplication, EvidenceApplication],
) -> None:
    """Requests arriving together are committed together; the refused ones (an unknown
    outcome, a retake of nothing) change nothing, for new and for known students alike."""
    first, _ = stores
    [[known]] = first.record(item(2, "stu-known")).attempt_ids

    def request(n: int) -> str:
        student = ("stu-known", f"stu-new-{n % 5}", f"stu-refused-{n % 3}")[n % 3]
        if n % 3 == 2:  # only ever refused: an unknown outcome, or a retake of nothing
            entry = (
                ScoreEntry("nope.9", Decimal(3))
                if n % 2
                else ScoreEntry("sci.1", Decimal(3), retake_of="no-such-attempt")
            )
            with pytest.raises(Rejected):
                first.record(AttemptDraft(student, (entry,), YESTERDAY, "t-ada"))
            return "refused"
        if n % 7 == 0:  # a retake of an attempt that does not exist, for a known student
            retake = ScoreEntry("sci.1", Decimal(3), retake_of="no-such-attempt")
            with pytest.raises(Rejected):
                first.record(AttemptDraft(student, (retake,), YESTERDAY, "t-ada"))
            return "refused"
        return first.record(item(1 + n % 4, student)).attempt_ids[0][0]

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(request, range(150)))
    accepted = [r for r in results if r != "refused"]
    recorded = [
        state.attempt.attempt_id
        for student in ["stu-known", *(f"stu-new-{n}" for n in range(5))]
        for state in first.student_history(student)
    ]
    assert sorted(recorded) == sorted([known, *accepted])
    for n in range(3):  # no history was even opened for students only refused
        with pytest.raises(AggregateNotFoundError):
            first.repository.get(student_aggregate_id(f"stu-refused-{n}"))


def test_a_replica_with_an_older_copy_of_a_history_judges_on_the_stored_one(
    stores: tuple[EvidenceApplication, EvidenceApplication],
) -> None:
    """Replica two has the student's history in memory; replica one then records an attempt.
    A void of that attempt sent to replica two is judged on the stored history, not refused."""
    first, second = stores
    second.record(item(1))  # replica two now holds stu-1's history
    [[recorded_by_first]] = first.record(item(2)).attempt_ids
    second.void("stu-1", recorded_by_first, "entered in error", "t-ada")
    voided = [s for s in first.student_history("stu-1", include_voided=True) if s.void]
    assert [s.attempt.attempt_id for s in voided] == [recorded_by_first]
