"""The catalog as its own process on a real nats-server: an admin imports standards and a
roster over gRPC, HTTP or the command line, revises a scale, and every change reaches JetStream
as a published event; bad input is refused with the field at fault and publishes nothing."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import httpx
import nats
import pytest

from arc.catalog.v1 import catalog_pb2 as pb
from arc.catalog.v1 import catalog_pb2_grpc
from arc_contracts import (
    ContractEvent,
    FrameworkDefinedV1,
    OutcomeDefinedV1,
    PersonDefinedV1,
    ScaleDefinedV1,
    SectionDefinedV1,
    decode,
)
from arc_platform.bus import last_sequence
from arc_platform.grpc_server import field_violations
from tests.support.stack import Stack

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CASE_FILES = sorted((SHARED / "case").glob("*.json")) if (SHARED / "case").is_dir() else []
ROSTER_DIR = SHARED / "oneroster"
needs_data = pytest.mark.skipif(
    not CASE_FILES or not (ROSTER_DIR / "manifest.csv").is_file(),
    reason="no CASE files or OneRoster set under ../shared/data",
)
FOUR = pb.ProficiencyScale(
    name="Four levels",
    levels=[
        pb.ScaleLevel(value=1, label="Not yet", colour="#d95f02"),
        pb.ScaleLevel(value=2, label="Approaching", colour="#e6ab02"),
        pb.ScaleLevel(value=3, label="Meets", colour="#1b9e77"),
        pb.ScaleLevel(value=4, label="Exceeds", colour="#7570b3"),
    ],
    mastery_threshold=3,
)


@pytest.fixture
def sqlite_stack(nats_url: str, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(nats_url, tmp_path / "data").start("catalog")
    yield running
    running.stop()


@pytest.fixture
def stack(nats_url: str, tmp_path: Path, database_url: str | None) -> Iterator[Stack]:
    running = Stack(nats_url, tmp_path / "data", database_url).start("catalog")
    yield running
    running.stop()


def catalog(stack: Stack) -> catalog_pb2_grpc.CatalogServiceStub:
    return stack.catalog()


def roster_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in ROSTER_DIR.glob("*.csv"):
            archive.write(path, f"export/{path.name}")
    return buffer.getvalue()


def halves(content: bytes) -> list[bytes]:
    """A payload sent in two parts, as a large one would be."""
    middle = len(content) // 2
    return [content[:middle], content[middle:]]


async def last_of(reports: AsyncIterator[pb.ImportProgress]) -> pb.ImportResult:
    phases = []
    async for report in reports:
        phases.append(report.phase)
        if report.HasField("result"):
            assert {"check", "save"} <= set(phases)
            return report.result
    raise AssertionError("no result")


async def published(nats_url: str, count: int, timeout: float = 30) -> list[ContractEvent]:
    """The first ``count`` events of the catalog stream, in order."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        subscription = await js.subscribe("arc.catalog.>", ordered_consumer=True)
        found: list[ContractEvent] = []
        async with asyncio.timeout(timeout):
            while len(found) < count:
                msg = await subscription.next_msg(timeout=timeout)
                found.append(decode(msg.headers, msg.data)[1])
        return found
    finally:
        await nc.close()


async def stream_end(nats_url: str) -> int:
    nc = await nats.connect(nats_url, connect_timeout=10)
    try:
        return await last_sequence(nc.jetstream(), "catalog")
    finally:
        await nc.close()


@needs_data
async def test_imports_and_a_scale_revision_reach_jetstream(stack: Stack, nats_url: str) -> None:
    api = catalog(stack)
    await api.DefineScale(pb.DefineScaleRequest(scale_id="four", scale=FOUR), timeout=30)
    outcomes = 0
    for path in CASE_FILES:
        result = await last_of(
            api.ImportCase(
                iter(
                    [
                        pb.ImportCaseRequest(package=part, scale_id="four" if n == 0 else "")
                        for n, part in enumerate(halves(path.read_bytes()))
                    ]
                )
            )
        )
        counts = {c.kind: c for c in result.counts}
        outcomes += counts["outcomes"].created
    roster = await last_of(
        api.ImportOneRoster(iter([pb.ImportOneRosterRequest(zip=p) for p in halves(roster_zip())]))
    )
    assert {c.kind: c.created for c in roster.counts}["people"] == 20
    roster_events = 1 + 4 + 2 + 5 + 20
    first = 1 + len(CASE_FILES) + outcomes + roster_events
    events = await published(nats_url, first)
    kinds = Counter(type(e).__name__ for e in events)
    assert kinds[ScaleDefinedV1.__name__] == 1
    assert kinds[FrameworkDefinedV1.__name__] == len(CASE_FILES)
    assert kinds[OutcomeDefinedV1.__name__] == outcomes
    assert kinds[PersonDefinedV1.__name__] == 20
    imported = [e for e in events if isinstance(e, OutcomeDefinedV1)]
    assert all((e.scale.scale_id, e.scale.revision, e.revision) == ("four", 1, 1) for e in imported)
    assert all(e.case_identifier == e.outcome_id and e.framework_id for e in imported)
    sections = {e.section_id: e for e in events if isinstance(e, SectionDefinedV1)}
    assert sections["cl0001"].teacher_ids == ("us0001",)
    assert sections["cl0001"].student_ids == ("us0003", "us0004", "us0005")

    # The admin relabels a level: every outcome on the scale is published again with it.
    relabelled = pb.ProficiencyScale()
    relabelled.CopyFrom(FOUR)
    relabelled.levels[0].label = "Beginning"
    revised = await api.DefineScale(pb.DefineScaleRequest(scale_id="four", scale=relabelled))
    assert revised.revision == 2
    events = await published(nats_url, first + 1 + outcomes)
    again = [e for e in events[first:] if isinstance(e, OutcomeDefinedV1)]
    assert len(again) == outcomes
    assert {(e.revision, e.scale.revision, e.scale.levels[0].label) for e in again} == {
        (2, 2, "Beginning")
    }
    assert await stream_end(nats_url) == first + 1 + outcomes  # each event exactly once


async def test_bad_input_is_refused_field_by_field_and_publishes_nothing(
    stack: Stack, nats_url: str
) -> None:
    api = catalog(stack)
    await api.DefineScale(pb.DefineScaleRequest(scale_id="four", scale=FOUR), timeout=30)
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await api.DefineOutcome(
            pb.DefineOutcomeRequest(code="M.1", statement="I can", scale_id="percent"),
            timeout=30,
        )
    assert unknown.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(unknown.value) == [("scale_id", "unknown scale 'percent'")]
    broken = pb.ProficiencyScale(
        name="x", levels=[pb.ScaleLevel(value=1, label="a", colour="blue")], mastery_threshold=1
    )
    with pytest.raises(grpc.aio.AioRpcError) as bad_scale:
        await api.DefineScale(pb.DefineScaleRequest(scale_id="x", scale=broken), timeout=30)
    assert {f for f, _ in field_violations(bad_scale.value)} == {
        "scale.levels",
        "scale.levels[0].colour",
    }
    files = {
        "manifest.csv": b'"propertyName","value"\n"oneroster.version","1.1"\n"file.orgs","bulk"\n',
        "orgs.csv": b'"sourcedId","name","type"\n"or-1","Ridge","school"\n"or-2","Vale","camp"\n',
    }
    with pytest.raises(grpc.aio.AioRpcError) as bad_roster:
        await last_of(
            api.ImportOneRoster(iter([pb.ImportOneRosterRequest(files=files)]), timeout=30)
        )
    assert bad_roster.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(bad_roster.value) == [
        (
            "orgs.csv:3:type",
            "'camp' is not one of department, school, district, local, state, national",
        )
    ]
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await api.GetOutcome(pb.GetOutcomeRequest(outcome_id="ghost"), timeout=30)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    # One good change after the refused ones: the relay publishes in store order, so once it is
    # on the stream, anything the refused requests had stored would be there before it.
    await api.DefineScale(pb.DefineScaleRequest(scale_id="five", scale=FOUR), timeout=30)
    events = await published(nats_url, 2)
    assert [e.scale.scale_id for e in events if isinstance(e, ScaleDefinedV1)] == ["four", "five"]
    assert await stream_end(nats_url) == 2


@needs_data
async def test_the_http_api_does_the_same_and_documents_itself(sqlite_stack: Stack) -> None:
    port = sqlite_stack.processes["catalog"].env["ARC_HTTP_PORT"]
    admin = {"Authorization": f"Bearer {sqlite_stack.token('admin')}"}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", timeout=30, headers=admin
    ) as http:
        document = (await http.get("/openapi.json")).json()
        assert {"/api/v1/outcomes/{outcome_id}", "/api/v1/imports/case", "/api/v1/settings"} <= set(
            document["paths"]
        )
        scale = {
            "name": "Four",
            "levels": [{"value": v, "label": f"L{v}"} for v in (1, 2, 3, 4)],
            "mastery_threshold": 3,
        }
        assert (await http.put("/api/v1/scales/four", json=scale)).status_code == 200
        labels = {"name": "Ridge", "labels": {"outcome": "competency"}, "default_scale_id": "four"}
        assert (await http.put("/api/v1/settings", json=labels)).status_code == 200
        settings = (await http.get("/api/v1/settings")).json()
        assert settings["value"]["labels"]["outcome"] == "competency"

        refused = await http.put(
            "/api/v1/outcomes/how.1",
            json={"code": "HOW.1", "statement": " ", "aligned_to": ["ghost"]},
        )
        assert refused.status_code == 422
        assert {v["field"] for v in refused.json()["violations"]} == {"statement", "aligned_to[0]"}

        saved = await http.put(
            "/api/v1/outcomes/how.1",
            json={"code": "HOW.1", "statement": "I work with others", "tags": ["Habits of work"]},
        )
        assert saved.json()["revision"] == 1 and saved.json()["position"] > 0
        outcome = (await http.get("/api/v1/outcomes/how.1")).json()
        assert outcome["value"]["definition"]["tags"] == ["habits-of-work"]
        assert outcome["value"]["scale"]["scale_id"] == "four"

        imported = await http.post("/api/v1/imports/case", content=CASE_FILES[0].read_bytes())
        assert imported.status_code == 200, imported.text
        framework_id = imported.json()["target"]
        tree = (await http.get(f"/api/v1/frameworks/{framework_id}")).json()
        assert tree["outcomes"][0]["depth"] == 0
        exported = (await http.get(f"/api/v1/frameworks/{framework_id}/case")).json()
        assert exported["CFDocument"]["identifier"] == framework_id

        bad = await http.post("/api/v1/imports/case", content=b'{"CFDocument": {}}')
        assert bad.status_code == 422
        assert "CFDocument.identifier" in {v["field"] for v in bad.json()["violations"]}
        roster = await http.post(
            "/api/v1/imports/oneroster",
            content=roster_zip(),
            headers={"content-type": "application/zip"},
        )
        assert roster.status_code == 200, roster.text
        guardians = (await http.get("/api/v1/people", params={"role": "guardian"})).json()
        assert guardians == []
        sections = (await http.get("/api/v1/sections", params={"student_id": "us0003"})).json()
        assert [s["key"] for s in sections] == ["cl0001", "cl0003"]
        assert (await http.get("/api/v1/people/nobody")).status_code == 404


def cli(stack: Stack, *args: str, user: str = "admin") -> subprocess.CompletedProcess[str]:
    """The command line, as ``user`` (its token in ARC_TOKEN)."""
    target = f"127.0.0.1:{stack.processes['catalog'].grpc_port}"
    return subprocess.run(
        [sys.executable, "-m", "arc_catalog", *args, "--target", target],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "120", "ARC_TOKEN": stack.token(user)},
        check=False,
    )


@needs_data
async def test_the_command_line_imports_files_with_progress(
    sqlite_stack: Stack, tmp_path: Path
) -> None:
    api = catalog(sqlite_stack)  # keep the channel alive for the call
    await api.DefineScale(pb.DefineScaleRequest(scale_id="four", scale=FOUR), timeout=30)
    done = await asyncio.to_thread(
        cli, sqlite_stack, "import-case", str(CASE_FILES[0]), "--scale", "four"
    )
    assert done.returncode == 0, done.stderr
    assert "Saving" in done.stderr and "outcomes" in done.stdout
    roster = await asyncio.to_thread(cli, sqlite_stack, "import-oneroster", str(ROSTER_DIR))
    assert roster.returncode == 0, roster.stderr
    assert "people" in roster.stdout and "fiel.demographics" in roster.stdout

    broken = tmp_path / "users"
    broken.mkdir()
    for path in ROSTER_DIR.glob("*.csv"):
        (broken / path.name).write_bytes(path.read_bytes())
    users = (broken / "users.csv").read_text().replace('"GN 05"', '""')
    (broken / "users.csv").write_text(users)
    refused = await asyncio.to_thread(cli, sqlite_stack, "import-oneroster", str(broken))
    assert refused.returncode == 1
    assert "users.csv line 6, column givenName: required, but empty" in refused.stderr
    assert "nothing was imported" in refused.stderr

    exported = tmp_path / "out.json"
    framework = json.loads(CASE_FILES[0].read_bytes())["CFDocument"]["identifier"]
    done = await asyncio.to_thread(cli, sqlite_stack, "export-case", framework, "-o", str(exported))
    assert done.returncode == 0 and json.loads(exported.read_text())["CFItems"]
