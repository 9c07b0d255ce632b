"""Each service is killed with SIGKILL while teachers record attempts and an administrator
defines outcomes, then restarted: nothing acknowledged is lost, nothing is counted or published
twice, and every projection equals a rebuild from the full history."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from arc_platform.devstack import SERVICES
from tests.support.faults import (
    LoadCount,
    LoadGenerator,
    assert_nothing_lost_or_doubled,
    define_outcome,
    define_outcomes,
)
from tests.support.stack import Stack, eventually


@pytest.fixture
def stack(nats_url: str, tmp_path: Path, database_url: str | None) -> Iterator[Stack]:
    running = Stack(nats_url, tmp_path / "data", database_url).start()
    yield running
    running.stop()


async def until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    async def check() -> bool:
        return condition()

    await eventually(check, timeout=timeout, what=what)


@pytest.mark.parametrize("victim", SERVICES)
async def test_a_killed_service_resumes_with_nothing_lost_or_doubled(
    stack: Stack, victim: str
) -> None:
    sent = LoadCount()
    await define_outcomes(stack, sent, ["MATH.1", "MATH.2", "MATH.3"])
    load = LoadGenerator(stack, sent, students=[f"stu-{n}" for n in range(16)])
    teachers = asyncio.create_task(load.record(500))
    administrator = asyncio.create_task(define_extra_outcomes(stack, sent, 24))
    await until(lambda: len(sent.acknowledged) > 120, "part of the load to be recorded")

    acknowledged_at_kill = len(sent.acknowledged)
    outcomes_at_kill = len(sent.outcome_ids)
    killed = stack.processes[victim]
    killed.kill()
    killed.stop()  # already dead: this only closes its log
    await until(
        lambda: felt(victim, sent, acknowledged_at_kill, outcomes_at_kill),
        f"the system to go on (or wait) without {victim}",
    )
    stack.restart(victim)
    await asyncio.gather(teachers, administrator)

    await assert_nothing_lost_or_doubled(stack, sent)


def felt(victim: str, sent: LoadCount, acknowledged_at_kill: int, outcomes_at_kill: int) -> bool:
    """The kill landed mid-stream: callers of the victim saw it fail, or the others went on
    writing what the victim (a consumer) will have to catch up on."""
    if victim in ("catalog", "evidence"):
        return sent.retried > 0
    return len(sent.acknowledged) > acknowledged_at_kill + 100 and (
        len(sent.outcome_ids) > outcomes_at_kill
    )


def recorded_at_least(sent: LoadCount, count: int) -> bool:
    return len(sent.acknowledged) >= count


async def define_extra_outcomes(stack: Stack, sent: LoadCount, count: int) -> None:
    """An administrator defining an outcome every 20 attempts (the catalog's stream moves too,
    all through the load)."""
    for n in range(count):
        await until(functools.partial(recorded_at_least, sent, 20 * n), "teachers to go on", 90)
        await define_outcome(stack, sent, f"EXTRA.{n}")
