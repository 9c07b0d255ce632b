"""The right to erasure end to end, with the four services as processes on a real nats-server.

A network admin defines Rosa Parks in the catalog and her teacher records a score with a
comment about her; reporting shows her name and the comment. Then the admin forgets Rosa: every
stored and published event is still there, but her name and the comment are sealed with a key
that no longer exists, reporting shows a "Removed student" (also after a rebuild from the bus),
the hash chains still verify, and nothing more can be recorded about her.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from arc.catalog.v1 import catalog_pb2 as pb
from arc_catalog.core import CatalogStore
from arc_contracts import stream_name
from arc_evidence.application import EvidenceApplication
from arc_platform.bus import last_sequence
from arc_platform.settings import ServiceSettings
from arc_platform.store import open_application
from arc_platform.views import create_engine
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.settings import ReportingSettings
from tests.support.stack import ONE_TO_FOUR, Stack, eventually

ROSA = "s-rosa"
COMMENT = "Rosa explained her ratio table to the whole class"
PERSONAL = (b"Rosa", b"Parks", b"rosa@example.org", COMMENT.encode())


@pytest.fixture
def stack(nats_url: str, tmp_path: Path, database_url: str | None) -> Iterator[Stack]:
    running = Stack(nats_url, tmp_path / "data", database_url).start()
    yield running
    running.stop()


async def define_rosas_class(stack: Stack) -> None:
    catalog = stack.catalog()
    await catalog.DefineScale(pb.DefineScaleRequest(scale_id="four", scale=ONE_TO_FOUR))
    await catalog.DefineOutcome(
        pb.DefineOutcomeRequest(
            outcome_id="ratios", code="RP.1", statement="I can use ratios", scale_id="four"
        )
    )
    await catalog.DefineCourse(
        pb.Course(
            course_id="math-6", title="Math 6", outcomes=[pb.CourseOutcome(outcome_id="ratios")]
        )
    )
    await catalog.DefinePerson(
        pb.Person(
            person_id=ROSA,
            role="student",
            given_name="Rosa",
            family_name="Parks",
            email="rosa@example.org",
        )
    )
    await catalog.DefineSection(
        pb.Section(section_id="sec-6a", course_id="math-6", title="6A", student_ids=[ROSA])
    )


def an_attempt(comment: str | None = None) -> dict[str, Any]:
    assessed = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    return {
        "student_id": ROSA,
        "scores": [{"outcome_id": "ratios", "score": "3"}],
        "assessed_at": assessed,
        "comment": comment,
    }


def settings_of(stack: Stack, service: str) -> ServiceSettings:
    return ServiceSettings(
        service_name=service,
        data_dir=stack.data_dir,
        database_url=stack.database_url,
        database_schema=f"arc_{service}" if stack.database_url else None,
    )


def stored_states(stack: Stack) -> dict[str, list[bytes]]:
    """Every event catalog and evidence stored, as their stores hold it."""
    states = {}
    for service, store in (("catalog", CatalogStore), ("evidence", EvidenceApplication)):
        app = open_application(store, settings_of(stack, service))
        states[service] = [n.state for n in app.recorder.select_notifications(0, 100_000)]
        app.close()
    return states


async def published_bodies(nats_url: str) -> dict[str, list[bytes]]:
    """Every message on the catalog's and evidence's streams, as JetStream holds it."""
    client = await nats.connect(nats_url)
    js = client.jetstream()
    bodies: dict[str, list[bytes]] = {}
    for context in ("catalog", "evidence"):
        last = await last_sequence(js, context)
        bodies[context] = [
            (await js.get_msg(stream_name(context), sequence)).data or b""
            for sequence in range(1, last + 1)
        ]
    await client.close()
    return bodies


def leaks(texts: dict[str, list[bytes]]) -> list[bytes]:
    everything = [text for found in texts.values() for text in found]
    return [text for text in everything if any(personal in text for personal in PERSONAL)]


def kept(before: dict[str, list[bytes]], after: dict[str, list[bytes]]) -> dict[str, int]:
    """How many events each store or stream gained, checking none was rewritten."""
    for name, events in before.items():
        assert after[name][: len(events)] == events, f"{name}: an event was rewritten"
    return {name: len(after[name]) - len(events) for name, events in before.items()}


def audit_verify(stack: Stack, service: str) -> subprocess.CompletedProcess[str]:
    env = {"ARC_DATA_DIR": str(stack.data_dir), "PATH": str(Path(sys.executable).parent)}
    if stack.database_url:
        env |= {"ARC_DATABASE_URL": stack.database_url, "ARC_DATABASE_SCHEMA": f"arc_{service}"}
    return subprocess.run(
        [
            *(sys.executable, "-m", "arc_platform.audit", "verify"),
            *("--store", service, "--stream", stream_name(service), "--nats", stack.nats_url),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_a_forgotten_student_stays_in_the_events_but_nobody_can_read_her(
    stack: Stack, tmp_path: Path
) -> None:
    await define_rosas_class(stack)
    admin = {"Authorization": f"Bearer {stack.token('admin')}"}
    evidence = httpx.AsyncClient(base_url=stack.http_url("evidence"), headers=admin, timeout=30)
    web = httpx.AsyncClient(base_url=stack.http_url("reporting"), headers=admin, timeout=30)
    catalog = httpx.AsyncClient(base_url=stack.http_url("catalog"), headers=admin, timeout=30)
    async with evidence, web, catalog:

        async def recorded() -> bool:  # once evidence's catalog view knows the outcome
            return (await evidence.post("/api/v1/attempts", json=an_attempt(COMMENT))).is_success

        await eventually(recorded, what="the attempt to be recorded")

        async def shown(name: str, comment: str | None) -> bool:
            page = await web.get(f"/api/v1/students/{ROSA}")
            detail = await web.get(f"/api/v1/students/{ROSA}/outcomes/ratios")
            if not (page.is_success and detail.is_success):
                return False
            comments = [a["comment"] for a in detail.json()["attempts"]]
            return page.json()["name"] == name and comments == [comment]

        await eventually(lambda: shown("Rosa Parks", COMMENT), what="reporting to show Rosa")
        stored_before = stored_states(stack)
        published_before = await published_bodies(stack.nats_url)
        assert leaks(stored_before) == [] and leaks(published_before) == []  # sealed all along

        forgotten = await catalog.post(f"/api/v1/people/{ROSA}/forget")
        assert forgotten.status_code == 200, forgotten.text

        await eventually(lambda: shown("Removed student", None), what="reporting to remove her")
        person = (await catalog.get(f"/api/v1/people/{ROSA}")).json()["value"]
        assert (person["given_name"], person["family_name"]) == ("[removed]", "[removed]")
        stored_after = stored_states(stack)
        assert kept(stored_before, stored_after) == {"catalog": 1, "evidence": 0}  # the forget
        published_after = await published_bodies(stack.nats_url)
        assert kept(published_before, published_after) == {"catalog": 1, "evidence": 0}
        assert json.loads(published_after["catalog"][-1]) == {"student_id": ROSA}
        assert leaks(published_after) == []

        refused = await evidence.post("/api/v1/attempts", json=an_attempt())
        assert refused.status_code == 400, refused.text
        assert "forgotten" in refused.text and "student_id" in refused.text
        assert kept(stored_after, stored_states(stack)) == {"catalog": 0, "evidence": 0}
        again = await catalog.put(
            f"/api/v1/people/{ROSA}",
            json={"role": "student", "given_name": "Rosa", "family_name": "Parks"},
        )
        assert again.status_code == 422 and "forgotten" in again.text

    for service in ("catalog", "evidence"):
        verified = audit_verify(stack, service)
        assert verified.returncode == 0, verified.stdout + verified.stderr

    target = "arc_reporting_rebuild" if stack.database_url else str(tmp_path / "rebuild")
    rebuild = stack.service("reporting", f"rebuild --into {target}")
    rebuild.start(wait=False)
    log = rebuild.log_path.read_text() if rebuild.log_path else ""
    assert rebuild.wait(120) == 0, log
    assert "no differences" in rebuild.log_path.read_text()  # type: ignore[union-attr]
    rebuilt_settings = ReportingSettings(
        data_dir=Path(target) if not stack.database_url else stack.data_dir,
        database_url=stack.database_url,
        database_schema=target if stack.database_url else None,
    )
    rebuilt = ReportingReadModel(create_engine(rebuilt_settings))
    assert rebuilt.catalog().name_of(ROSA) == "Removed student"
    assert [a.comment for a in rebuilt.attempts_of([ROSA])] == [None]
