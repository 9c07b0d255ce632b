"""Calls to mastery and evidence are made on behalf of the person using reporting: their bearer
token (the ``Authorization`` header of the request being served) goes along, so that the
other service applies that person's rights too (reporting checks them first: ``access``).
Pages signed in by cookie get the header from ``access.TokenCookie``."""

from __future__ import annotations

from contextvars import ContextVar

from fastapi import Request

_bearer: ContextVar[str | None] = ContextVar("arc_reporting_bearer", default=None)


async def remember_bearer(request: Request) -> None:
    """A FastAPI dependency: keep the caller's bearer token for calls made while serving."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    _bearer.set(token.strip() if scheme.lower() == "bearer" and token.strip() else None)


def call_metadata() -> tuple[tuple[str, str], ...]:
    """gRPC metadata forwarding the caller's token (none when there is no caller token)."""
    token = _bearer.get()
    return (("authorization", f"Bearer {token}"),) if token else ()
