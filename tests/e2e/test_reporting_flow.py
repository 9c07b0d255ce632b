"""Reporting end to end through a real nats-server, with evidence, mastery and reporting as
separate processes: a teacher enters a class's scores on reporting's form, mastery
recalculates, the heat map and the student's page show it with mastery's explanation, early
warnings are raised and cleared on the bus exactly once, and a rebuild of the read model from
the bus equals the live one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from arc_contracts import (
    ContractEvent,
    CourseDefinedV1,
    CourseOutcomeV1,
    Envelope,
    GradeBandV1,
    MasteryWarningV1,
    OrgDefinedV1,
    OutcomeDefinedV1,
    PersonDefinedV1,
    PolicyDefinedV1,
    SectionDefinedV1,
    decode,
    encode,
)
from arc_platform import bus
from tests.support.reporting import FOUR
from tests.support.stack import Stack, eventually, replayed_by_batch

STUDENTS = {"s-maya": ("Maya", "Garcia"), "s-noah": ("Noah", "Smith"), "s-zoe": ("Zoe", "Adams")}


@pytest.fixture
def stack(nats_url: str, tmp_path: Path, database_url: str | None) -> Iterator[Stack]:
    running = Stack(nats_url, tmp_path / "data", database_url).start("evidence", "mastery")
    ports = {name: running.processes[name].grpc_port for name in ("evidence", "mastery")}
    running.processes["reporting"] = running.service(
        "reporting",
        ARC_MASTERY_TARGET=f"127.0.0.1:{ports['mastery']}",
        ARC_EVIDENCE_TARGET=f"127.0.0.1:{ports['evidence']}",
        ARC_WARNING_CHECK_SECONDS="0.5",
    ).start()
    yield running
    running.stop()


def catalog_events() -> list[ContractEvent]:
    outcomes = [("ratios", "RP.1"), ("fractions", "NS.1")]
    return [
        OrgDefinedV1(org_id="sch-1", revision=1, org_name="Riverside Middle", kind="school"),
        *(
            OutcomeDefinedV1(
                outcome_id=o,
                code=c,
                statement=f"I can {c}",
                scale=FOUR,
                revision=1,
                tags=("academic",),
            )
            for o, c in outcomes
        ),
        CourseDefinedV1(
            course_id="math-6",
            revision=1,
            title="Grade 6 Maths",
            school_id="sch-1",
            outcomes=tuple(CourseOutcomeV1(outcome_id=o, power=True) for o, _ in outcomes),
        ),
        PolicyDefinedV1(
            policy_id="pol-math",
            revision=1,
            scope="course",
            scope_id="math-6",
            method="most_recent",
            report_card=(
                GradeBandV1(minimum=Decimal(3), grade="B"),
                GradeBandV1(minimum=Decimal(1), grade="D"),
            ),
        ),
        PersonDefinedV1(
            person_id="t-ada", revision=1, role="teacher", given_name="Ada", family_name="Lovelace"
        ),
        *(
            PersonDefinedV1(person_id=s, revision=1, role="student", given_name=g, family_name=f)
            for s, (g, f) in STUDENTS.items()
        ),
        PersonDefinedV1(
            person_id="g-rosa",
            revision=1,
            role="guardian",
            given_name="Rosa",
            family_name="Garcia",
            guardian_of=("s-maya",),
        ),
        SectionDefinedV1(
            section_id="sec-6a",
            revision=1,
            course_id="math-6",
            school_id="sch-1",
            title="6A Maths",
            teacher_ids=("t-ada",),
            student_ids=tuple(STUDENTS),
        ),
    ]


async def publish_catalog(nats_url: str, at: datetime) -> None:
    """As the catalog's relay would, a month ago (so the class has been enrolled that long)."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for event in catalog_events():
        envelope = Envelope(str(uuid.uuid4()), "/arc/catalog", event.event_type(), at)
        subject, body, headers = encode(event, envelope)
        await js.publish(subject, body, headers=headers, stream="ARC_CATALOG")
    await nc.close()


def entry_form(scores: dict[str, dict[str, str]], key: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "recorded_by": "t-ada",
        "assessment_ref": "Unit 1 quiz",
        "assessment_kind": "test",
        "assessed_on": datetime.now(UTC).strftime("%Y-%m-%d"),
        "outcome_id": ["ratios", "fractions"],
        "idempotency_key": key,
    }
    for student, by_outcome in scores.items():
        for outcome, score in by_outcome.items():
            fields[f"score.{student}.{outcome}"] = score
    return fields


async def warnings_on_bus(nats_url: str) -> list[tuple[str, MasteryWarningV1]]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    end = await bus.last_sequence(js, "reporting")
    found = []
    if end:
        subscription = await js.subscribe("arc.reporting.v1.>", ordered_consumer=True)
        for _ in range(end):
            msg = await subscription.next_msg(timeout=5)
            _, event = decode(msg.headers, msg.data)
            assert isinstance(event, MasteryWarningV1)
            found.append(((msg.headers or {})["ce-id"], event))
    await nc.close()
    return found


def active(found: list[tuple[str, MasteryWarningV1]]) -> set[tuple[str, str]]:
    """The (student, outcome) pairs whose latest warning event is not a clearing."""
    latest = {(e.student_id, e.outcome_id): e.state for _, e in found}
    return {pair for pair, state in latest.items() if state != "cleared"}


async def test_a_class_entry_flows_to_the_heat_map_the_student_page_and_warnings(
    stack: Stack, nats_url: str, tmp_path: Path
) -> None:
    await publish_catalog(nats_url, datetime.now(UTC) - timedelta(days=30))
    base = f"http://127.0.0.1:{stack.processes['reporting'].env['ARC_HTTP_PORT']}"
    # Reporting passes the user's token along to mastery and evidence (which check it).
    user = {"Authorization": f"Bearer {stack.token('admin')}"}
    async with httpx.AsyncClient(base_url=base, timeout=20, headers=user) as web:

        async def section_known() -> bool:
            reply = await web.get("/api/v1/sections/sec-6a/heatmap")
            return reply.status_code == 200 and len(reply.json()["heatmap"]["rows"]) == 3

        await eventually(section_known, what="reporting to learn the section")

        # The teacher enters the class's quiz; evidence may still be learning the catalog.
        first = entry_form(
            {"s-maya": {"ratios": "3", "fractions": "2"}, "s-noah": {"ratios": "2"}}, "quiz-1"
        )

        async def recorded() -> bool:
            reply = await web.post("/sections/sec-6a/evidence", data=first)
            return (
                reply.status_code == 303
                and reply.headers["location"] == "/sections/sec-6a?recorded=3"
            )

        await eventually(recorded, what="evidence to accept the class entry")

        # A score off the scale: the form says which cell, and nothing is recorded.
        rejected = await web.post(
            "/sections/sec-6a/evidence",
            data=entry_form({"s-zoe": {"ratios": "7", "fractions": "3"}}, "quiz-bad"),
        )
        assert rejected.status_code == 422 and "Nothing was recorded" in rejected.text
        assert 'href="#score.s-zoe.ratios"' in rejected.text

        async def heat_map() -> dict[tuple[str, str], str] | None:
            rows = (await web.get("/api/v1/sections/sec-6a/heatmap")).json()["heatmap"]["rows"]
            cells = {
                (r["student_id"], c["outcome_id"]): c["status"] for r in rows for c in r["cells"]
            }
            return (
                cells
                if cells[("s-noah", "ratios")] != "no_evidence"
                and cells[("s-maya", "fractions")] != "no_evidence"
                else None
            )

        cells = await eventually(heat_map, what="mastery's changes to reach the heat map")
        assert cells == {
            ("s-maya", "ratios"): "mastered",
            ("s-maya", "fractions"): "approaching",
            ("s-noah", "ratios"): "approaching",
            ("s-noah", "fractions"): "no_evidence",
            ("s-zoe", "ratios"): "no_evidence",
            ("s-zoe", "fractions"): "no_evidence",
        }

        # What counts and why comes from mastery's own explanation.
        student = (await web.get("/api/v1/students/s-maya")).json()
        ratios = next(o for o in student["courses"][0]["outcomes"] if o["outcome_id"] == "ratios")
        assert ratios["level_label"] == "Meets" and ratios["explanation"]
        detail = (await web.get("/api/v1/students/s-maya/outcomes/ratios")).json()
        assert detail["explanation"]["method"] == "most_recent"
        assert [c["attempt_id"] for c in detail["explanation"]["counted"]] == [
            a["attempt_id"] for a in detail["attempts"]
        ]
        page = await web.get("/students/s-maya")
        assert "Why:</strong>" in page.text
        card = (await web.get("/api/v1/students/s-maya/report-card")).json()
        assert card["courses"][0]["grade"]["grade"] == "D"  # mean of 3 and 2 = 2.5

        # Zoe (both power outcomes) and Noah (fractions) have had no evidence for a month.
        # (Warnings raised before the quiz reached reporting are cleared once it does.)
        async def active_is(expected: set[tuple[str, str]]) -> list[Any] | None:
            found = await warnings_on_bus(nats_url)
            return found if active(found) == expected else None

        await eventually(
            lambda: active_is(
                {("s-noah", "fractions"), ("s-zoe", "fractions"), ("s-zoe", "ratios")}
            ),
            what="warnings raised on the bus",
        )
        zoe = entry_form({"s-zoe": {"ratios": "4", "fractions": "3"}}, "quiz-zoe")
        assert (await web.post("/sections/sec-6a/evidence", data=zoe)).status_code == 303
        found = await eventually(
            lambda: active_is({("s-noah", "fractions")}), what="Zoe's warnings to clear"
        )
        assert len({ce_id for ce_id, _ in found}) == len(found)  # each published once
        by_warning: dict[str, list[str]] = {}
        for _, event in found:
            by_warning.setdefault(event.warning_id, []).append(event.state)
        for states in by_warning.values():
            assert states[0] == "raised" and states.count("raised") == 1
            assert "cleared" not in states[:-1]
        zoe_cleared = [e for _, e in found if e.student_id == "s-zoe" and e.state == "cleared"]
        assert {e.outcome_id for e in zoe_cleared} == {"ratios", "fractions"}
        assert all(e.status == "mastered" for e in zoe_cleared)

        async def zoe_mastered() -> bool:
            rows = (await web.get("/api/v1/sections/sec-6a/heatmap?q=zoe")).json()["heatmap"][
                "rows"
            ]
            return bool(rows[0]["mastered"] == 2)

        await eventually(zoe_mastered, what="Zoe's levels in reporting")

    # The read model rebuilt from the bus equals the live one.
    target = "arc_reporting_rebuild" if stack.database_url else str(tmp_path / "rebuild")
    traces = tmp_path / "rebuild-traces.jsonl"
    rebuild = stack.service("reporting", f"rebuild --into {target}", ARC_TRACE_FILE=str(traces))
    rebuild.start(wait=False)
    assert rebuild.wait(120) == 0, rebuild.log_path.read_text() if rebuild.log_path else ""
    assert "no differences" in rebuild.log_path.read_text()  # type: ignore[union-attr]
    assert len(await warnings_on_bus(nats_url)) == len(found)  # nothing published since
    nc = await nats.connect(nats_url)
    # Three attempts for the class, two for Zoe: the rejected entry recorded nothing.
    assert await bus.last_sequence(nc.jetstream(), "evidence") == 5
    assert replayed_by_batch(traces, "evidence") == 5  # the rebuild traced whole batches
    await nc.close()
