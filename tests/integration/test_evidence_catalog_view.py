"""Evidence learns outcomes and rosters only from the catalog's events on the bus, keeping the
latest revision of each, and rebuilds its view when its schema changes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import nats
import sqlalchemy as sa

from arc_evidence.__main__ import EvidenceSettings
from arc_evidence.catalog_view import CATALOG_STREAM, CatalogView
from arc_platform.bus import last_sequence
from arc_platform.consumer import TrackedConsumer
from arc_platform.views import create_engine
from tests.support.evidence import (
    PERCENT,
    outcome_defined,
    publish,
    section_defined,
    student_defined,
)


async def follow(nats_url: str, view: CatalogView, until: Callable[[], bool]) -> None:
    """Run evidence's catalog consumer until the view has read the whole catalog stream."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    end = await last_sequence(js, "catalog")
    stop = asyncio.Event()
    consumer = TrackedConsumer(js, "catalog", view.position, view.apply)
    task = asyncio.create_task(consumer.run(stop))
    try:
        for _ in range(600):
            if view.position(CATALOG_STREAM) >= end and until():
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("the catalog view did not catch up")
    finally:
        stop.set()
        await task
        await nc.close()


def settings(tmp_path: Path, database_url: str | None) -> EvidenceSettings:
    return EvidenceSettings(data_dir=tmp_path, database_url=database_url)


async def test_outcomes_keep_their_latest_revision_and_can_be_retired(
    nats_url: str, tmp_path: Path, database_url: str | None
) -> None:
    view = CatalogView(create_engine(settings(tmp_path, database_url)))
    await publish(
        nats_url,
        outcome_defined("math.1", revision=2, code="MATH.1", case_uri="https://case.example/1"),
        outcome_defined("math.1", revision=1),  # a late, older revision changes nothing
        outcome_defined("pct.1", PERCENT),
        outcome_defined("old.1"),
        outcome_defined("old.1", revision=2, retired=True),
    )
    await follow(nats_url, view, lambda: True)
    math = view.outcome("math.1")
    assert math is not None and math.revision == 2 and math.code == "MATH.1"
    assert view.outcome_by_code("math.1") == math
    assert view.outcomes_aligned_to("https://case.example/1") == [math]
    pct = view.outcome("pct.1")
    assert pct is not None and pct.scale == PERCENT
    old = view.outcome("old.1")
    assert old is not None and old.retired
    assert view.outcome("nope") is None


async def test_students_are_known_from_people_and_section_rosters(
    nats_url: str, tmp_path: Path, database_url: str | None
) -> None:
    view = CatalogView(create_engine(settings(tmp_path, database_url)))
    await publish(
        nats_url,
        student_defined("stu-1"),
        student_defined("stu-left", active=False),
        student_defined("t-ada", role="teacher"),
        section_defined("6a", ["stu-1", "stu-roster-only", "stu-moved"], teachers=["t-ada"]),
        section_defined("6a", ["stu-1", "stu-roster-only"], revision=2, teachers=["t-ada"]),
    )
    await follow(nats_url, view, lambda: True)
    assert view.student("stu-1") == "student"
    assert view.student("stu-roster-only") == "student"
    assert view.student("stu-left") == "inactive"
    assert view.student("t-ada") == "not_a_student"
    assert view.student("stu-moved") == "unknown"  # dropped from the roster in revision 2
    section = view.section("6a")
    assert section is not None and section.revision == 2
    assert section.student_ids == {"stu-1", "stu-roster-only"}
    assert section.teacher_ids == {"t-ada"}


async def test_a_view_of_an_older_schema_is_rebuilt_from_the_stream(
    nats_url: str, tmp_path: Path, database_url: str | None
) -> None:
    engine = create_engine(settings(tmp_path, database_url))
    with engine.begin() as conn:  # what the first version of evidence left behind
        conn.execute(sa.text("CREATE TABLE known_outcomes (outcome_id VARCHAR(200))"))
        conn.execute(sa.text("CREATE TABLE view_tracking (stream VARCHAR(100), position BIGINT)"))
        conn.execute(sa.text("INSERT INTO view_tracking VALUES ('ARC_CATALOG', 1)"))
    await publish(nats_url, outcome_defined("math.1"))
    view = CatalogView(engine)
    assert view.position(CATALOG_STREAM) == 0
    await follow(nats_url, view, lambda: view.outcome("math.1") is not None)
    assert not sa.inspect(engine).has_table("known_outcomes")


async def test_a_remembered_outcome_gives_way_to_the_next_revision_at_once(
    nats_url: str, tmp_path: Path, database_url: str | None
) -> None:
    engine = create_engine(settings(tmp_path, database_url))
    view = CatalogView(engine)
    await publish(nats_url, outcome_defined("math.1", revision=1))
    await follow(nats_url, view, lambda: view.outcome("math.1") is not None)
    first = view.outcome("math.1")
    assert first is not None and first.revision == 1
    assert view.outcome("math.1") is first  # remembered: no second read
    await publish(nats_url, outcome_defined("math.1", revision=2, retired=True))
    await follow(nats_url, view, lambda: True)
    second = view.outcome("math.1")
    assert second is not None and second.revision == 2 and second.retired


async def test_an_outcome_not_found_is_asked_again_as_another_replica_may_write_it(
    nats_url: str, tmp_path: Path, database_url: str | None
) -> None:
    engine = create_engine(settings(tmp_path, database_url))
    mine, other_replica = CatalogView(engine), CatalogView(engine)
    assert mine.outcome("math.1") is None
    await publish(nats_url, outcome_defined("math.1"))
    await follow(nats_url, other_replica, lambda: True)  # only the other replica applied it
    found = mine.outcome("math.1")
    assert found is not None and found.revision == 1
