"""The xAPI 1.0.3 Statements resource, served by evidence under ``/xapi``: ``PUT`` one statement
(``statementId``), ``POST`` one or many, ``GET`` by ``statementId`` or ``voidedStatementId``,
and ``/xapi/about``. Every request names its version in ``X-Experience-API-Version`` (1.0.x);
every answer carries ours. Statements that cannot be mapped to attempts are stored all the
same and listed at ``/api/v1/xapi/unmapped``. Queries (filters, ``more`` paging) and
attachments are not supported: such requests are refused with 400.

Access (``XAPI_ACCESS_RULES``, bearer tokens as everywhere): statements are sent by tools (an
assessment tool or LMS whose token carries the role ``tool``) and network administrators, and
read back by them and by auditors; the evidence a statement becomes records the sending client
as its actor. ``/xapi/about`` (only the version spoken) is open, as version discovery is."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from arc_evidence.application import Contention, EvidenceApplication
from arc_evidence.rules import Rejected
from arc_evidence.statements import find_statement, received_all, store_statements
from arc_evidence.xapi import VERSION_HEADER, XAPI_VERSION, InvalidStatement, supported_version
from arc_evidence.xapi_openapi import (
    GET_STATEMENT,
    POST_STATEMENTS,
    PUT_STATEMENT,
    RESPONSES,
)
from arc_platform.auth import (
    PUBLIC,
    Access,
    HttpRule,
    ReadStatements,
    SendStatements,
    current_request,
)
from arc_platform.http_errors import error_response

STATUS_CODES = {"invalid": 400, "not_found": 404, "conflict": 409}
ID_PARAMETERS = ("statementId", "voidedStatementId")
#: Parameters allowed beside statementId / voidedStatementId.
FORMAT_PARAMETERS = ("attachments", "format")
XAPI_ACCESS_RULES: dict[str, HttpRule] = {
    "GET /xapi/about": PUBLIC,
    "PUT /xapi/statements": lambda _request: SendStatements(),
    "POST /xapi/statements": lambda _request: SendStatements(),
    "GET /xapi/statements": lambda _request: ReadStatements(),
}


def answer(status: int, content: Any = None, headers: dict[str, str] | None = None) -> Response:
    headers = {VERSION_HEADER: XAPI_VERSION, **(headers or {})}
    if content is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(content, status, headers=headers)


def error(status: int, problems: list[tuple[str, str]], **extra: Any) -> Response:
    """A refusal in every service's shape (``arc_platform.http_errors``), with our version."""
    response = error_response(status, problems, **extra)
    response.headers[VERSION_HEADER] = XAPI_VERSION
    return response


class Refusal(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def check_version(request: Request) -> None:
    version = request.headers.get(VERSION_HEADER)
    if not supported_version(version):
        raise Refusal(
            error(400, [(VERSION_HEADER, f"{version!r} is missing or not 1.0.x (we speak 1.0.3)")])
        )


async def json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/mixed":
        raise Refusal(error(400, [("attachments", "attachments are not supported")]))
    if content_type != "application/json":
        raise Refusal(error(400, [("Content-Type", "must be application/json")]))
    body = await request.body()  # no larger than the upload limit (arc_platform.limits)
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refusal(error(400, [("body", f"not JSON: {exc}")])) from exc


def xapi_router(
    app: EvidenceApplication,
    on_recorded: Callable[[], None],
    access: Access,
    max_statements: int = 1000,
) -> APIRouter:
    router = APIRouter(prefix="/xapi")

    async def store(raws: list[Any], statement_id: str | None, listed: bool) -> list[str]:
        try:
            received = received_all(raws, app.clock(), statement_id, listed)
            ids = await asyncio.to_thread(store_statements, app, received)
        except InvalidStatement as exc:
            raise Refusal(error(400, [(p.field, p.description) for p in exc.problems])) from exc
        except Rejected as exc:
            problems = [(p.field, p.description) for p in exc.problems]
            raise Refusal(error(STATUS_CODES[exc.kind], problems)) from exc
        except Contention as exc:
            raise Refusal(error(503, [("request", str(exc))])) from exc
        on_recorded()
        return ids

    @router.get("/about")
    def about() -> Response:
        return answer(200, {"version": [XAPI_VERSION]})

    @router.put(
        "/statements", status_code=204, responses=RESPONSES["put"], openapi_extra=PUT_STATEMENT
    )
    async def put_statement(request: Request) -> Response:
        """Store one statement under the id given as ``statementId``: 204 No Content."""
        try:
            check_version(request)
            statement_id = request.query_params.get("statementId")
            if not statement_id or not _is_uuid(statement_id):
                raise Refusal(error(400, [("statementId", "a UUID parameter is required")]))
            raw = await json_body(request)
            if isinstance(raw, list):
                raise Refusal(error(400, [("body", "PUT takes one statement, not a list")]))
            await store([raw], statement_id, listed=False)
        except Refusal as refusal:
            return refusal.response
        return answer(204)

    @router.post("/statements", responses=RESPONSES["post"], openapi_extra=POST_STATEMENTS)
    async def post_statements(request: Request) -> Response:
        """Store one statement or a list (all or none): 200 with their ids, in order."""
        try:
            check_version(request)
            if set(request.query_params) & {"method"}:
                raise Refusal(error(400, [("method", "alternate request syntax unsupported")]))
            raw = await json_body(request)
            listed = isinstance(raw, list)
            if listed and len(raw) > max_statements:
                count = f"{len(raw)} statements; the limit is {max_statements}"
                raise Refusal(error(413, [("body", count)], limit=max_statements))
            ids = await store(raw if listed else [raw], None, listed)
        except Refusal as refusal:
            return refusal.response
        return answer(200, ids)

    @router.get("/statements", responses=RESPONSES["get"], openapi_extra=GET_STATEMENT)
    async def get_statement(request: Request) -> Response:
        """One statement by ``statementId`` (not voided) or ``voidedStatementId`` (voided)."""
        response, student_id = await asyncio.to_thread(find, request)
        if student_id is not None:  # a statement about a student is a read of their records
            await asyncio.to_thread(access.log.record_reads, current_request(), [student_id])
        return response

    def find(request: Request) -> tuple[Response, str | None]:
        try:
            check_version(request)
            params = request.query_params
            given = [name for name in ID_PARAMETERS if name in params]
            others = sorted(set(params) - set(ID_PARAMETERS) - set(FORMAT_PARAMETERS))
            if len(given) != 1:
                description = "give exactly one of statementId or voidedStatementId (queries "
                description += "are not supported by this LRS)"
                raise Refusal(error(400, [("statementId", description)]))
            if others:
                raise Refusal(
                    error(400, [(others[0], f"not allowed with {given[0]} (nor supported)")])
                )
            if params.get("attachments", "false") == "true":
                raise Refusal(error(400, [("attachments", "attachments are not supported")]))
        except Refusal as refusal:
            return refusal.response, None
        statement_id = params[given[0]]
        found = find_statement(app, statement_id) if _is_uuid(statement_id) else None
        wanted_voided = given[0] == "voidedStatementId"
        if found is None or (found.status == "voided") != wanted_voided:
            what = "voided statement" if wanted_voided else "statement"
            return error(404, [(given[0], f"no {what} {statement_id}")]), None
        now = app.clock()
        return answer(
            200,
            found.statement,
            {
                "X-Experience-API-Consistent-Through": now.isoformat(),
                "Last-Modified": format_datetime(found.stored_at.astimezone(UTC), usegmt=True),
            },
        ), found.student_id

    return router


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
