"""The relationships view the access policy relies on, on SQLite and PostgreSQL: built from the
catalog's events, it follows roster and guardianship changes, and never goes back to an older
revision."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from arc_contracts import ContractEvent, Envelope, PersonDefinedV1, SectionDefinedV1, stream_name
from arc_platform import bus
from arc_platform.auth.policy import ReadSection, ReadStudent, RecordEvidence, Relations
from arc_platform.auth.relationships import POSITION_KEY, RelationshipsView
from arc_platform.consumer import Delivery
from arc_platform.settings import ServiceSettings
from arc_platform.views import create_engine
from tests.support.evidence import publish

_sequence = itertools.count(1)


def person(person_id: str, role: str, revision: int = 1, **extra: Any) -> PersonDefinedV1:
    return PersonDefinedV1.model_validate(
        {
            "person_id": person_id,
            "revision": revision,
            "role": role,
            "given_name": "A",
            "family_name": person_id,
        }
        | extra
    )


def section(
    section_id: str,
    revision: int,
    teachers: tuple[str, ...],
    students: tuple[str, ...],
    school: str | None = "sch-A",
) -> SectionDefinedV1:
    return SectionDefinedV1(
        section_id=section_id,
        revision=revision,
        course_id="c1",
        school_id=school,
        title=section_id,
        teacher_ids=teachers,
        student_ids=students,
    )


def delivered(*events: ContractEvent) -> list[Delivery]:
    return [
        Delivery(
            stream_name("catalog"),
            next(_sequence),
            e.subject(),
            Envelope(str(uuid.uuid4()), "/arc/catalog", e.event_type(), datetime.now(UTC)),
            e,
            None,
            POSITION_KEY,
        )
        for e in events
    ]


@pytest.fixture
def view(tmp_path: Path, database_url: str | None) -> RelationshipsView:
    settings = ServiceSettings(service_name="mastery", data_dir=tmp_path, database_url=database_url)
    return RelationshipsView(create_engine(settings))


def test_a_teacher_is_related_to_the_students_of_the_sections_they_teach(
    view: RelationshipsView,
) -> None:
    view.apply(
        delivered(
            section("sec-1", 1, ("t-1",), ("stu-1", "stu-2")),
            section("sec-2", 1, ("t-2",), ("stu-3",), school="sch-B"),
            person("t-1", "teacher"),
            person("stu-1", "student", school_ids=("sch-Z",)),
        )
    )
    facts = view.relations("t-1", ReadStudent("stu-1"))
    assert facts == Relations(
        principal_active=True,
        sections_taught=frozenset({"sec-1"}),
        student_sections=frozenset({"sec-1"}),
        student_schools=frozenset({"sch-A", "sch-Z"}),  # of her sections, and her own record
    )
    assert view.relations("t-1", RecordEvidence("stu-3")).student_sections == {"sec-2"}
    assert view.relations("t-1", ReadSection("sec-2")).section_school == "sch-B"


def test_roster_changes_and_guardianships_follow_the_latest_revision(
    view: RelationshipsView,
) -> None:
    view.apply(
        delivered(
            section("sec-1", 1, ("t-1",), ("stu-1",)),
            person("g-1", "guardian", guardian_of=("stu-1", "stu-2")),
            person("l-1", "administrator", school_ids=("sch-A", "sch-B")),
        )
    )
    view.apply(
        delivered(
            section("sec-1", 2, ("t-9",), ("stu-1",)),  # t-1 no longer teaches sec-1
            person("g-1", "guardian", revision=2, guardian_of=("stu-2",)),
            section("sec-1", 1, ("t-1",), ("stu-1",)),  # a late copy of revision 1: ignored
            person("l-1", "administrator", revision=2, school_ids=("sch-B",), active=False),
        )
    )
    assert view.relations("t-1", ReadStudent("stu-1")).sections_taught == frozenset()
    assert view.relations("t-9", ReadStudent("stu-1")).sections_taught == {"sec-1"}
    assert view.relations("g-1", ReadStudent("stu-1")).guardian_of == {"stu-2"}
    leader = view.relations("l-1", ReadStudent("stu-1"))
    assert leader.principal_schools == {"sch-B"} and not leader.principal_active
    assert not view.relations("nobody", ReadStudent("stu-1")).principal_active


def test_a_batch_applied_twice_changes_nothing_the_second_time(view: RelationshipsView) -> None:
    batch = delivered(section("sec-1", 1, ("t-1",), ("stu-1",)))
    view.apply(batch)
    view.apply(batch)  # e.g. a second replica sharing the database got there first
    assert view.position() == batch[-1].sequence
    assert view.relations("t-1", ReadStudent("stu-1")).sections_taught == {"sec-1"}


async def test_the_view_is_kept_by_a_consumer_of_the_catalog_stream(
    nats_url: str, view: RelationshipsView
) -> None:
    await publish(
        nats_url,
        section("sec-1", 1, ("t-1",), ("stu-1",)),
        person("g-1", "guardian", guardian_of=("stu-1",)),
    )
    nc = await bus.connect(nats_url, "test")
    stop = asyncio.Event()
    task = asyncio.create_task(view.consumer(nc.jetstream()).run(stop))
    try:
        for _ in range(200):
            if view.relations("g-1", ReadStudent("stu-1")).guardian_of:
                break
            await asyncio.sleep(0.05)
        assert view.relations("g-1", ReadStudent("stu-1")).guardian_of == {"stu-1"}
        assert view.position() == 2
    finally:
        stop.set()
        await task
        await nc.close()
