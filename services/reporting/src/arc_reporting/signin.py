"""Signing a browser in: the sign-in page takes a bearer token (pasted, or in development
fetched from the dev issuer for one demo user at the press of a button), checks it, and keeps
it in an HttpOnly, SameSite=Strict cookie that ``access.TokenCookie`` turns back into an
``Authorization`` header on page requests. Signing out clears the cookie."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import httpx
import jwt
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from arc_platform.auth import AccessGuard
from arc_platform.auth.dev_issuer import DEMO_USERS
from arc_platform.auth.tokens import Unauthenticated
from arc_reporting.access import COOKIE

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a path of this site (no other host: ``//evil`` or ``https://…`` are refused)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _page(request: Request, status: int = 200, error: str = "") -> HTMLResponse:
    from arc_reporting.pages import render

    demo = sorted(DEMO_USERS) if request.app.state.dev_sign_in else []
    return render(
        request,
        "signin.html",
        status,
        demo_users=demo,
        error=error,
        next=_safe_next(request.query_params.get("next")),
    )


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request) -> HTMLResponse:
    return _page(request)


@router.post("/signin")
async def sign_in(
    request: Request,
    token: Annotated[str, Form()] = "",
    demo_user: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    guard: AccessGuard = request.app.state.access.guard
    if demo_user:
        if not request.app.state.dev_sign_in or demo_user not in DEMO_USERS:
            return _page(request, 403, "Demo users are only for development.")
        try:
            token = await _dev_token(guard.verifier.settings.issuer, demo_user)
        except httpx.HTTPError as exc:
            return _page(request, 503, f"The development issuer did not answer ({exc}).")
    token = token.strip().removeprefix("Bearer ").strip()
    try:
        await asyncio.to_thread(guard.verifier.verify, token)
    except Unauthenticated as exc:
        return _page(request, 401, f"That token was not accepted: {exc}")
    expires = int(jwt.decode(token, options={"verify_signature": False}).get("exp", 0))
    reply = RedirectResponse(_safe_next(next), status_code=303)
    reply.set_cookie(
        COOKIE,
        token,
        max_age=max(0, expires - int(time.time())),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return reply


@router.post("/signout")
async def sign_out() -> Response:
    reply = RedirectResponse("/signin", status_code=303)
    reply.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return reply


async def _dev_token(issuer: str, user: str) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        reply = await client.get(f"{issuer.rstrip('/')}/token/{user}")
        reply.raise_for_status()
        token: str = reply.json()["access_token"]
        return token
