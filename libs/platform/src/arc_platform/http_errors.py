"""How every service's HTTP API refuses a request, in one shape, and how its OpenAPI document
says so. A refusal answers ``{"detail": "<field>: <why>; ...", "violations": [{"field": ...,
"description": ...}]}``: ``field`` is a path into the request a person can find
(``rows[1].scores[0].score``, ``as_of``, ``statement.context.extensions[""]``), the same names
as the ``field_violations`` of our gRPC errors. A refusal no field is at fault for (permission
denied, a concurrent change) has only ``detail``. A body over a limit adds ``limit``; "retry
later" (503) adds ``retry_after_seconds`` and the ``Retry-After`` header.

Services wire it with :func:`install_error_handlers` (FastAPI's own validation errors included)
and document it with :func:`documented_errors` (which also keeps FastAPI from advertising its
default ``HTTPValidationError``, a shape we never send)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from arc_platform.limits import TooMany
from arc_platform.unavailable import RETRY_AFTER_SECONDS

Problems = Sequence[tuple[str, str]]


class FieldViolation(BaseModel):
    field: str = Field(description="Where in the request, e.g. `rows[1].scores[0].score`")
    description: str = Field(description="What is wrong with it")


class ErrorBody(BaseModel):
    """Why the request was refused; nothing was written."""

    detail: str = Field(description="Every violation in one line (or why, when none)")
    violations: list[FieldViolation] = Field(
        default_factory=list, description="Every field at fault (absent when none is)"
    )


class TooLargeBody(ErrorBody):
    limit: int = Field(description="The limit passed (bytes, items or lines)")


class RetryLaterBody(ErrorBody):
    retry_after_seconds: int = Field(description="Also in the Retry-After header")


WHY = {
    400: "Bad input: every field at fault",
    401: "No valid bearer token",
    403: "Not allowed (the same answer whether or not the record exists)",
    404: "Something named was not found (the field naming it)",
    409: "A conflict with what is stored (e.g. an idempotency key reused for another request)",
    413: "The body, batch or upload is over a limit (named)",
    422: "Bad input: every field at fault",
    503: "Unavailable now (nothing was written): try again after Retry-After",
}
MODELS: dict[int, type[ErrorBody]] = {413: TooLargeBody, 503: RetryLaterBody}


def documented_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the refusals ``statuses`` (for a route or a whole app)."""
    return {
        status: {"model": MODELS.get(status, ErrorBody), "description": WHY[status]}
        for status in statuses
    }


def error_content(problems: Problems, detail: str = "", **extra: Any) -> dict[str, Any]:
    """The body of a refusal naming ``problems`` (field, description)."""
    content: dict[str, Any] = {"detail": detail or "; ".join(f"{f}: {d}" for f, d in problems)}
    if problems:
        content["violations"] = [{"field": f, "description": d} for f, d in problems]
    if extra:
        content.update(extra)
    return content


def error_response(
    status: int,
    problems: Problems,
    detail: str = "",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A refusal; a 503 also says when to retry (body and ``Retry-After``)."""
    if status == 503:
        extra.setdefault("retry_after_seconds", RETRY_AFTER_SECONDS)
        headers = {"Retry-After": str(extra["retry_after_seconds"]), **(headers or {})}
    return JSONResponse(error_content(problems, detail, **extra), status, headers=headers)


class Refused(Exception):
    """Raised by a route: answer ``status`` naming ``problems`` (field, description)."""

    def __init__(self, status: int, problems: Problems, detail: str = "") -> None:
        super().__init__(detail or "; ".join(f"{f}: {d}" for f, d in problems))
        self.status = status
        self.problems = list(problems)
        self.detail = detail


def field_path(location: Sequence[int | str]) -> str:
    """Where pydantic found a fault, as a path: ("body", "scores", 0, "score") →
    "scores[0].score"; a query, path or header parameter by its name."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def validation_problems(exc: RequestValidationError) -> list[tuple[str, str]]:
    problems = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":  # located by character, not by field
            why = error.get("ctx", {}).get("error", "invalid")
            problems.append(("body", f"not JSON: {why} (character {error['loc'][-1]})"))
        else:
            problems.append((field_path(tuple(error["loc"])), str(error["msg"])))
    return problems


def http_exception_response(exc: StarletteHTTPException, validation_status: int) -> JSONResponse:
    """FastAPI's and our routes' ``HTTPException`` as ``{"detail": ...}`` (as FastAPI answers
    it); a body FastAPI could not read at all (not UTF-8 text) is bad input naming ``body``."""
    if exc.status_code == 400 and exc.__cause__ is not None:
        why = f"could not be read as JSON text ({type(exc.__cause__).__name__})"
        return error_response(validation_status, [("body", why)])
    return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI, validation_status: int = 422) -> None:
    """Answer :class:`Refused`, a batch over its limit (:class:`TooMany`) and FastAPI's request
    validation errors in the one shape; ``validation_status`` is the service's status for bad
    input (400 or 422)."""

    async def refused(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Refused)
        return error_response(exc.status, exc.problems, exc.detail)

    async def invalid(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(validation_status, validation_problems(exc))

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return http_exception_response(exc, validation_status)

    async def too_many(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TooMany)
        return error_response(413, [(exc.field, exc.description)], str(exc), limit=exc.limit)

    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(TooMany, too_many)
    app.add_exception_handler(StarletteHTTPException, http_error)
    _drop_default_validation_error(app)


def _drop_default_validation_error(app: FastAPI) -> None:
    """FastAPI documents a 422 ``HTTPValidationError`` on every route with parameters unless
    the route documents its own 422: we answer bad input in our shape (and evidence with 400),
    so the default is dropped from the document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = build()
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if _DEFAULT_422 in str(responses.get("422", "")):
                    del responses["422"]
        schemas = document.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


_DEFAULT_422 = "#/components/schemas/HTTPValidationError"
