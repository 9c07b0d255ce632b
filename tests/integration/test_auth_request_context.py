"""Who did it: while a request is served, the platform knows the caller (from the token), the
client and when — what a service stores with every change it makes. Shown on a small gRPC
method and HTTP route wired exactly as a service wires them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from arc_platform.auth import (
    PUBLIC,
    Access,
    AccessGuard,
    AccessLog,
    ChangeCatalog,
    GrpcRule,
    NoRequestContext,
    ReadCatalog,
    RecordEvidence,
    RelationshipsView,
    current_request,
)
from arc_platform.auth.client import bearer_interceptors, forwarded_token
from arc_platform.auth.dev_issuer import DevIssuerServer
from arc_platform.auth.tokens import TokenSettings, TokenVerifier
from arc_platform.grpc_server import channel, start_server

#: Writes made in these tests: (actor, what), as a service's store would keep them.
WRITES: list[tuple[dict[str, object], str]] = []


def record_note(text: str) -> None:
    """A use case: it takes its author from the request being served."""
    WRITES.append((current_request().actor(), text))


@pytest.fixture
def access(tmp_path: Path) -> Iterator[tuple[Access, DevIssuerServer]]:
    issuer = DevIssuerServer(tmp_path / "keys").start()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'views.sqlite'}")
    verifier = TokenVerifier(
        TokenSettings(issuer=issuer.url, audience="arc", jwks_url=f"{issuer.url}/jwks.json")
    )
    guard = AccessGuard(verifier, RelationshipsView(engine), AccessLog(engine))
    WRITES.clear()
    yield Access(guard, RelationshipsView(engine), AccessLog(engine)), issuer
    issuer.stop()


async def test_a_grpc_write_knows_its_author_and_client(
    access: tuple[Access, DevIssuerServer],
) -> None:
    guarded, issuer = access

    async def note(request: bytes, context: Any) -> bytes:
        record_note(request.decode())
        return b"ok"

    handler = grpc.method_handlers_generic_handler(
        "test.Notes",
        {
            "Write": grpc.unary_unary_rpc_method_handler(note),
            "Forgotten": grpc.unary_unary_rpc_method_handler(note),  # nobody wrote its rule
        },
    )
    server, port = await start_server(
        "127.0.0.1",
        0,
        [lambda s: s.add_generic_rpc_handlers((handler,))],
        [],
        interceptors=[guarded.grpc({"/test.Notes/Write": lambda _r: ReadCatalog()})],
    )
    try:
        client = channel(f"127.0.0.1:{port}", token=issuer.issuer.token("admin", client_id="cli"))
        assert await client.unary_unary("/test.Notes/Write")(b"moved sci.1 under sci") == b"ok"
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await client.unary_unary("/test.Notes/Forgotten")(b"sneaky")
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED  # closed by default
        await client.close()
    finally:
        await server.stop(None)
    actor, text = WRITES[0]
    assert text == "moved sci.1 under sci"
    assert actor["by"] == "admin-demo" and actor["roles"] == ["network_admin"]
    assert actor["client_id"] == "cli" and "127.0.0.1" in str(actor["client_address"])
    assert actor["via"] == "grpc /test.Notes/Write" and str(actor["at"]).endswith("+00:00")


async def test_an_http_write_knows_its_author_and_a_refused_one_writes_nothing(
    access: tuple[Access, DevIssuerServer],
) -> None:
    guarded, issuer = access
    app = FastAPI(
        dependencies=[
            guarded.http(
                {
                    "GET /healthz": PUBLIC,
                    "POST /students/{student_id}/notes": lambda r: RecordEvidence(
                        r.path_params["student_id"]
                    ),
                }
            )
        ]
    )

    @app.post("/students/{student_id}/notes")
    def add(student_id: str) -> dict[str, str]:  # a plain (threaded) route sees it too
        record_note(f"note on {student_id}")
        return {"ok": "yes"}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.delete("/students/{student_id}")
    def forgotten(student_id: str) -> dict[str, str]:  # nobody wrote its rule
        record_note(f"deleted {student_id}")
        return {"ok": "yes"}

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://arc"
    ) as http:
        admin = {"Authorization": f"Bearer {issuer.issuer.token('admin')}"}
        student = {"Authorization": f"Bearer {issuer.issuer.token('student')}"}
        assert (await http.post("/students/stu-1/notes", headers=admin)).status_code == 200
        assert (await http.post("/students/stu-1/notes", headers=student)).status_code == 403
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.delete("/students/stu-1", headers=admin)).status_code == 403
    assert [(a["by"], a["via"], text) for a, text in WRITES] == [
        ("admin-demo", "http POST /students/{student_id}/notes", "note on stu-1")
    ]
    entries = guarded.log.entries(student_id="stu-1")
    assert [(e.subject, e.action, e.allowed) for e in entries] == [
        ("stu-001", "record_evidence", False),
        ("admin-demo", "record_evidence", True),
    ]
    assert json.dumps(WRITES[0][0])  # storable as is


def test_outside_a_request_there_is_no_author() -> None:
    with pytest.raises(NoRequestContext):
        record_note("written by nobody")


async def test_a_call_made_on_a_users_behalf_carries_their_token(
    access: tuple[Access, DevIssuerServer],
) -> None:
    """Reporting asking mastery for an explanation does so with the user's own rights."""
    guarded, issuer = access
    port_of: dict[str, int] = {}

    async def who(request: bytes, context: Any) -> bytes:
        return current_request().principal.subject.encode()

    async def on_behalf(request: bytes, context: Any) -> bytes:
        onward = channel(f"127.0.0.1:{port_of['server']}", token=forwarded_token)
        try:
            return bytes(await onward.unary_unary("/test.Notes/Who")(b""))
        finally:
            await onward.close()

    handler = grpc.method_handlers_generic_handler(
        "test.Notes",
        {
            "Who": grpc.unary_unary_rpc_method_handler(who),
            "OnBehalf": grpc.unary_unary_rpc_method_handler(on_behalf),
        },
    )
    rules: dict[str, GrpcRule] = {
        "/test.Notes/Who": lambda _r: ReadCatalog(),
        "/test.Notes/OnBehalf": lambda _r: ReadCatalog(),
    }
    server, port_of["server"] = await start_server(
        "127.0.0.1",
        0,
        [lambda s: s.add_generic_rpc_handlers((handler,))],
        [],
        interceptors=[guarded.grpc(rules)],
    )
    try:
        token = issuer.issuer.token("guardian")
        client = grpc.aio.insecure_channel(
            f"127.0.0.1:{port_of['server']}", interceptors=bearer_interceptors(token)
        )
        assert await client.unary_unary("/test.Notes/OnBehalf")(b"") == b"guardian-001"
        await client.close()
    finally:
        await server.stop(None)


async def test_streamed_calls_carry_the_token_and_are_checked_every_way(
    access: tuple[Access, DevIssuerServer],
) -> None:
    """A client stream (an import sent in parts), a server stream, both at once: the token goes
    along, the guard decides before the handler reads anything, and the handler knows who."""
    guarded, issuer = access
    read: list[bytes] = []

    async def upload(requests: Any, context: Any) -> bytes:
        async for part in requests:
            read.append(part)
        return current_request().principal.subject.encode()

    async def upload_with_progress(requests: Any, context: Any) -> Any:
        async for part in requests:
            read.append(part)
            yield part.upper()
        yield current_request().principal.subject.encode()

    async def download(request: bytes, context: Any) -> Any:
        for part in (request, current_request().principal.subject.encode()):
            yield part

    handler = grpc.method_handlers_generic_handler(
        "test.Files",
        {
            "Upload": grpc.stream_unary_rpc_method_handler(upload),
            "Import": grpc.stream_stream_rpc_method_handler(upload_with_progress),
            "Download": grpc.unary_stream_rpc_method_handler(download),
        },
    )
    rules: dict[str, GrpcRule] = {
        "/test.Files/Upload": lambda _none: ChangeCatalog(),
        "/test.Files/Import": lambda _none: ChangeCatalog(),
        "/test.Files/Download": lambda _request: ReadCatalog(),
    }
    server, port = await start_server(
        "127.0.0.1",
        0,
        [lambda s: s.add_generic_rpc_handlers((handler,))],
        [],
        interceptors=[guarded.grpc(rules)],
    )
    target = f"127.0.0.1:{port}"
    try:
        admin = channel(target, token=issuer.issuer.token("admin"))
        assert await admin.stream_unary("/test.Files/Upload")(iter([b"a", b"b"])) == b"admin-demo"
        replies = [r async for r in admin.stream_stream("/test.Files/Import")(iter([b"c"]))]
        assert replies == [b"C", b"admin-demo"]
        downloaded = [r async for r in admin.unary_stream("/test.Files/Download")(b"d")]
        assert downloaded == [b"d", b"admin-demo"]
        await admin.close()
        assert read == [b"a", b"b", b"c"]

        teacher = channel(target, token=issuer.issuer.token("teacher"))
        anonymous = grpc.aio.insecure_channel(target)
        for client, code in (
            (teacher, grpc.StatusCode.PERMISSION_DENIED),
            (anonymous, grpc.StatusCode.UNAUTHENTICATED),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await client.stream_unary("/test.Files/Upload")(iter([b"x"]))
            assert refused.value.code() == code
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                async for _ in client.stream_stream("/test.Files/Import")(iter([b"y"])):
                    pass
            assert refused.value.code() == code
            await client.close()
        assert read == [b"a", b"b", b"c"]  # refused calls were never read
    finally:
        await server.stop(None)
