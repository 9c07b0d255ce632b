"""Reporting's read model on SQLite and on PostgreSQL: built only from events, effects and
position in one transaction, as of any date, and equal when rebuilt from the same history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from arc_contracts import (
    Envelope,
    MasteryCauseV1,
    MasteryChangedV1,
    MasteryValueV1,
    PersonDefinedV1,
)
from arc_platform.consumer import Delivery
from arc_platform.views import StalePosition, create_engine
from arc_reporting.domain.asof import standings_at
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.sample import feed_class
from arc_reporting.settings import ReportingSettings
from arc_reporting.views.common import Config
from arc_reporting.views.student import outcome_detail, student_page
from tests.support.reporting import Story, day, riverside


def read_model(
    database_url: str | None, tmp_path: Path, schema: str = "reporting"
) -> ReportingReadModel:
    settings = ReportingSettings(
        database_url=database_url, data_dir=tmp_path / schema, database_schema=schema
    )
    return ReportingReadModel(create_engine(settings))


def test_a_school_year_told_as_events_is_what_the_views_show(
    database_url: str | None, tmp_path: Path
) -> None:
    story = riverside(read_model(database_url, tmp_path))
    story.record("s-maya", "ratios", 2, day(3))
    story.record("s-maya", "ratios", 3, day(20))
    wrong = story.record("s-maya", "fractions", 4, day(22))
    story.void("s-maya", "fractions", wrong, day(23), None)

    page = student_page(story.model, Config(), "s-maya", None)
    lines = {line.outcome_id: line for line in page.courses[0].outcomes}
    assert (lines["ratios"].status, lines["ratios"].value, lines["ratios"].level_label) == (
        "mastered",
        Decimal(3),
        "Meets",
    )
    assert lines["fractions"].status == "no_evidence" and lines["fractions"].attempts == 1
    detail = outcome_detail(story.model, Config(), "s-maya", "fractions", None)
    assert [(a.counted, a.not_counted) for a in detail.attempts] == [
        (False, "voided: entered for the wrong student")
    ]
    before_void = outcome_detail(
        story.model, Config(), "s-maya", "fractions", day(22) + (day(1) - day(0)) / 2
    )
    assert [a.counted for a in before_void.attempts] == [True]
    assert before_void.line.status == "mastered"
    assert story.model.position("ARC_CATALOG") == story.sequences["ARC_CATALOG"]
    assert story.model.position("ARC_EVIDENCE.p0") == 4


def test_a_stale_batch_changes_nothing(database_url: str | None, tmp_path: Path) -> None:
    model = read_model(database_url, tmp_path)
    story = Story(model)
    story.person("s-1", "student", "Ana", "Lima")
    event = PersonDefinedV1(
        person_id="s-2", revision=1, role="student", given_name="Bo", family_name="Chan"
    )
    envelope = Envelope(str(uuid.uuid4()), "/arc/test", event.event_type(), day(0))
    replay = Delivery("ARC_CATALOG", 1, event.subject(), envelope, event, None, "ARC_CATALOG")
    with pytest.raises(StalePosition):
        model.apply([replay])
    assert set(model.catalog().people) == {"s-1"}


def test_a_failing_batch_leaves_neither_effects_nor_position(
    database_url: str | None, tmp_path: Path
) -> None:
    story = riverside(read_model(database_url, tmp_path))
    first = story.record("s-maya", "ratios", 2, day(3))
    position = story.model.position("ARC_EVIDENCE.p0")
    with pytest.raises(
        sa.exc.IntegrityError
    ):  # the same attempt id twice: the batch is refused whole
        story.model.apply(
            [
                _attempt_delivery(story, "s-noah", "a-new", position + 1),
                _attempt_delivery(story, "s-maya", first, position + 2),
            ]
        )
    assert story.model.position("ARC_EVIDENCE.p0") == position
    assert story.model.attempts_of(["s-noah"]) == []


def _attempt_delivery(story: Story, student: str, attempt_id: str, sequence: int) -> Delivery:
    from arc_contracts import AttemptRecordedV1
    from tests.support.reporting import FOUR

    event = AttemptRecordedV1(
        attempt_id=attempt_id,
        student_id=student,
        outcome_id="ratios",
        outcome_revision=1,
        scale=FOUR,
        score=Decimal(2),
        assessed_at=day(4),
        recorded_at=day(4),
        recorded_by="t",
    )
    envelope = Envelope(str(uuid.uuid4()), "/arc/test", event.event_type(), day(4))
    return Delivery(
        "ARC_EVIDENCE", sequence, event.subject(), envelope, event, None, "ARC_EVIDENCE.p0"
    )


def test_a_malformed_message_is_skipped_and_its_position_kept(
    database_url: str | None, tmp_path: Path
) -> None:
    model = read_model(database_url, tmp_path)
    model.apply(
        [
            Delivery(
                "ARC_CATALOG",
                7,
                "arc.catalog.v1.person_defined",
                None,
                None,
                "bad json",
                "ARC_CATALOG",
            )
        ]
    )
    assert model.position("ARC_CATALOG") == 7 and model.catalog().people == {}


def test_the_same_history_gives_the_same_read_model(
    database_url: str | None, tmp_path: Path
) -> None:
    """What ``arc-reporting rebuild`` compares: every row of every table."""
    live = read_model(database_url, tmp_path, "reporting")
    rebuilt = read_model(database_url, tmp_path, "reporting_rebuild")
    for model in (live, rebuilt):
        feed_class(model, students=6, outcomes=5, attempts=12, seed=3)
    assert live.content() == rebuilt.content()
    assert len(live.content()["attempts"]) == 72
    other = read_model(database_url, tmp_path, "reporting_other")
    feed_class(other, students=6, outcomes=5, attempts=12, seed=4)
    assert other.content() != live.content()


def test_an_outdated_read_model_is_dropped_and_rebuilt_from_the_bus(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE level_changes (stream_sequence INTEGER PRIMARY KEY)"))
        conn.execute(
            sa.text("CREATE TABLE view_tracking (stream VARCHAR(100) PRIMARY KEY, position BIGINT)")
        )
        conn.execute(sa.text("INSERT INTO view_tracking VALUES ('ARC_CATALOG', 99)"))
    model = ReportingReadModel(engine)
    assert model.position("ARC_CATALOG") == 0
    assert "level_changes" not in sa.inspect(engine).get_table_names()
    again = ReportingReadModel(engine)  # same version now: kept
    riverside(again)
    assert ReportingReadModel(engine).position("ARC_CATALOG") > 0


def test_standings_alone_are_what_the_whole_history_gives_at_every_moment(
    database_url: str | None, tmp_path: Path
) -> None:
    """The heat map reads only the newest change per student and outcome (``standings_of``):
    the same standings as folding every change (``standings_at``), now and as of any day."""
    model = read_model(database_url, tmp_path)
    feed_class(model, students=6, outcomes=8, attempts=30)
    students = [f"stu-{n:03d}" for n in range(1, 7)]
    start = datetime(2026, 9, 1, tzinfo=UTC)
    for as_of in [None, *(start + timedelta(days=d, hours=7) for d in range(0, 90, 6))]:
        for outcomes in (None, ["math.01", "math.02", "math.07"]):
            whole = standings_at(model.changes_of(students, outcomes, as_of), as_of)
            assert model.standings_of(students, outcomes, as_of) == whole, as_of


def test_the_standing_now_is_the_newest_change_even_when_changes_arrive_out_of_time_order(
    database_url: str | None, tmp_path: Path
) -> None:
    """``current_standings`` keeps each pair's newest change by when it was made (then by
    stream sequence), as folding every change does, whether the older change arrives in a
    later batch or later in the same batch."""
    model = read_model(database_url, tmp_path)
    story = Story(model)
    story.change("stu-1", "math.01", Decimal(3), day(5))
    story.change("stu-1", "math.01", Decimal(2), day(3))  # published later, made earlier
    sequence = story.sequences["ARC_MASTERY.p0"]
    in_one_batch = [
        _change_delivery("stu-2", "math.01", Decimal(4), day(9), sequence + 1),
        _change_delivery("stu-2", "math.01", Decimal(1), day(2), sequence + 2),
        _change_delivery("stu-2", "math.02", Decimal(1), day(2), sequence + 3),
        _change_delivery("stu-2", "math.02", Decimal(2), day(2), sequence + 4),  # same moment
    ]
    model.apply(in_one_batch)
    students = ["stu-1", "stu-2"]
    now = model.standings_of(students)
    assert now == standings_at(model.changes_of(students), None)
    assert {pair: standing.value for pair, standing in now.items()} == {
        ("stu-1", "math.01"): Decimal(3),
        ("stu-2", "math.01"): Decimal(4),
        ("stu-2", "math.02"): Decimal(2),
    }


def _change_delivery(
    student: str, outcome: str, value: Decimal, at: datetime, sequence: int
) -> Delivery:
    event = MasteryChangedV1(
        student_id=student,
        outcome_id=outcome,
        before=MasteryValueV1(value=None, level=None, status="no_evidence", evidence_count=0),
        after=MasteryValueV1(
            status="mastered" if value >= 3 else "not_yet",
            value=value,
            level=value,
            level_label=str(value),
            evidence_count=1,
        ),
        method="most_recent",
        cause=MasteryCauseV1(kind="evidence", event_id=str(uuid.uuid4())),
        changed_at=at,
    )
    envelope = Envelope(str(uuid.uuid4()), "/arc/test", event.event_type(), at)
    return Delivery(
        "ARC_MASTERY", sequence, event.subject(), envelope, event, None, "ARC_MASTERY.p0"
    )
