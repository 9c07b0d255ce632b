"""Integrators follow early warnings on ``arc.reporting.v1.mastery_warning``: each warning is
raised, changed and cleared once, published exactly once (even when two relays run), on a
real nats-server, with reporting's store on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import nats
from nats.js import JetStreamContext

from arc_contracts import MasteryWarningV1, decode
from arc_platform import bus
from arc_platform.relay import OutboxRelay
from arc_platform.store import open_application
from arc_platform.views import create_engine
from arc_reporting import published
from arc_reporting.early_warnings import evaluate_and_record
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.settings import ReportingSettings
from arc_reporting.views.common import Config
from arc_reporting.warning_store import WarningStore
from tests.support.reporting import day, riverside


async def published_warnings(js: JetStreamContext) -> list[tuple[str, MasteryWarningV1]]:
    end = await bus.last_sequence(js, "reporting")
    subscription = await js.subscribe("arc.reporting.v1.>", ordered_consumer=True)
    found = []
    for _ in range(end):
        msg = await subscription.next_msg(timeout=5)
        _, event = decode(msg.headers, msg.data)
        assert isinstance(event, MasteryWarningV1)
        found.append(((msg.headers or {})["ce-id"], event))
    await subscription.unsubscribe()
    return found


async def test_warnings_are_recorded_once_and_published_exactly_once(
    nats_url: str, tmp_path: Path, database_url: str | None
) -> None:
    settings = ReportingSettings(
        database_url=database_url, data_dir=tmp_path, database_schema="reporting"
    )
    model = ReportingReadModel(create_engine(settings))
    store = open_application(WarningStore, settings)
    story = riverside(model)
    story.record("s-maya", "ratios", 3, day(2))
    story.record("s-maya", "fractions", 3, day(2))
    story.record("s-noah", "ratios", 3, day(2))
    story.record("s-noah", "fractions", 2, day(2))

    # Five weeks in: Zoe has no evidence on either power outcome, Noah none new on fractions.
    assert evaluate_and_record(store, model, Config(), day(35)) == 3
    assert evaluate_and_record(store, model, Config(), day(36)) == 0  # nothing changed: nothing new
    story.record("s-zoe", "ratios", 4, day(37))
    story.record("s-zoe", "fractions", 3, day(37))
    assert evaluate_and_record(store, model, Config(), day(38)) == 2  # Zoe's two are cleared

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await bus.ensure_stream(js, "reporting", 3600)
    relays = [
        OutboxRelay(store, published.translate, js, "reporting", "/arc/reporting", partitions=4)
        for _ in range(2)
    ]
    await relays[0].publish_pending()
    assert relays[0].published_count == 5
    # A relay that crashed after publishing, before recording its position, sends it all
    # again: the same ids, so JetStream's duplicate window keeps one copy of each.
    relays[1].tracking_name = "relay:crashed-before-recording"
    await relays[1].publish_pending()
    assert relays[1].published_count == 5
    found = await published_warnings(js)
    assert len({ce_id for ce_id, _ in found}) == len(found) == 5
    events = [event for _, event in found]
    assert [(e.student_id, e.outcome_id, e.state) for e in events] == [
        ("s-noah", "fractions", "raised"),
        ("s-zoe", "fractions", "raised"),
        ("s-zoe", "ratios", "raised"),
        ("s-zoe", "fractions", "cleared"),
        ("s-zoe", "ratios", "cleared"),
    ]
    raised, cleared = events[1], events[3]
    assert raised.warning_id == cleared.warning_id and raised.reasons == ("no_recent_evidence",)
    assert "no evidence yet on this power outcome" in raised.detail
    assert raised.rule == {"stall_attempts": "3", "drop_weeks": "4", "quiet_weeks": "3"}
    assert (cleared.reasons, cleared.status, cleared.level_label) == ((), "mastered", "Meets")
    assert raised.course_ids == ("math-6",)
    assert events[0].status == "approaching" and events[0].value == 2
    await nc.close()
    store.close()


async def test_a_warning_whose_reasons_change_is_updated_not_raised_again(tmp_path: Path) -> None:
    settings = ReportingSettings(data_dir=tmp_path)
    model = ReportingReadModel(create_engine(settings))
    store = open_application(WarningStore, settings)
    story = riverside(model)
    story.record("s-maya", "ratios", 2, day(2))
    assert evaluate_and_record(store, model, Config(), day(30)) > 0
    before = store.active()[("s-maya", "ratios")]
    for n in range(3):
        story.record("s-maya", "ratios", 2, day(31 + n))
    evaluate_and_record(store, model, Config(), day(35))
    after = store.active()[("s-maya", "ratios")]
    assert after["warning_id"] == before["warning_id"]
    assert (before["reasons"], after["reasons"]) == (["no_recent_evidence"], ["stalled"])
    store.close()
