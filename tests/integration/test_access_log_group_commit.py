"""The access log under concurrent calls: every call's rows are written before it returns,
calls arriving together share a transaction, and a failed write fails every call it held."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from arc_platform.auth.access_log import AccessLog
from arc_platform.auth.principal import Principal, RequestContext, Role


def context(subject: str) -> RequestContext:
    principal = Principal(subject=subject, roles=frozenset({Role.TEACHER}))
    return RequestContext(principal, "grpc", "/arc.evidence.v1.EvidenceService/RecordAttempt")


def test_concurrent_calls_are_all_logged_in_fewer_transactions(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'log.sqlite'}")
    log = AccessLog(engine)
    commits: list[int] = []
    event.listen(engine, "commit", lambda conn: commits.append(1))

    def one_call(n: int) -> None:
        log.record(context(f"t-{n}"), "record_evidence", [f"s-{n}"], True, "teaches")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(one_call, range(400)))

    entries = log.entries(limit=1000)
    assert sorted(e.subject for e in entries) == sorted(f"t-{n}" for n in range(400))
    assert {e.student_id for e in entries} == {f"s-{n}" for n in range(400)}
    assert len(commits) < 400  # calls that overlapped shared a commit


def test_a_failed_write_fails_the_calls_it_held_and_the_log_recovers(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'log.sqlite'}")
    log = AccessLog(engine)
    log.record(context("t-1"), "read_student", ["s-1"], True, "teaches")
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE access_log RENAME TO access_log_away")
    with pytest.raises(sa.exc.OperationalError):
        log.record(context("t-2"), "read_student", ["s-2"], True, "teaches")
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE access_log_away RENAME TO access_log")
    log.record(context("t-3"), "read_student", ["s-3"], True, "teaches")
    assert [e.subject for e in log.entries()] == ["t-3", "t-1"]
