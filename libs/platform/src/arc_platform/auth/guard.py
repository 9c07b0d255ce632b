"""Enforcing the access policy at the edge of a service: a gRPC server interceptor and a FastAPI
dependency, both driven by a table of rules ("this endpoint is this kind of request").

An endpoint without a rule is closed (PERMISSION_DENIED / 403). A denied request gets the same
answer whether or not the record exists: the decision is taken before anything is looked up,
from the catalog's relationships only. Every decision about a student's records is written to
the access log.

A rule gives one access request, or several when one call touches several students (a class
batch): then every one of them must be allowed (none at all is refused). An HTTP rule may be a
coroutine function, to read the request's body.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, Protocol

import grpc
from fastapi import HTTPException, Request

from arc_platform.auth.access_log import AccessLog
from arc_platform.auth.policy import (
    NOTHING_KNOWN,
    AccessRequest,
    Decision,
    Relations,
    decide,
)
from arc_platform.auth.principal import Principal, RequestContext, Role, _current, serving
from arc_platform.auth.relationships import person_of
from arc_platform.auth.tokens import TokenVerifier, Unauthenticated, bearer_token

log = logging.getLogger(__name__)

#: The one answer to a refused request, whether the record exists or not.
DENIED = "permission denied"
#: How much of a refused client's request stream is read (and dropped) before the refusal is
#: sent, at most: see :func:`_refuse`.
HEAR_OUT_BYTES = 1 << 20
HEAR_OUT_SECONDS = 2.0


class _Public:
    """Marks an endpoint open without a token (health checks)."""

    def __repr__(self) -> str:
        return "PUBLIC"


PUBLIC: Final = _Public()
#: What a rule decides on: one access request, or several that must all be allowed.
Asked = AccessRequest | Sequence[AccessRequest]
#: gRPC rules: full method name → request message → access request(s) (or PUBLIC). A method
#: whose client streams its requests gets ``None``.
GrpcRule = Callable[[Any], Asked] | _Public
#: HTTP rules: "GET /path/{param}" (the route's template) → request → access request(s), or an
#: awaitable of them (to read the body), or PUBLIC.
HttpRule = Callable[[Request], Asked | Awaitable[Asked]] | _Public
ALWAYS_PUBLIC_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})
RELATIONSHIP_ROLES = frozenset({Role.GUARDIAN, Role.TEACHER, Role.LEADER})


class RelationsSource(Protocol):
    """Answers what the policy needs to know about the people involved: the relationships view
    kept from the catalog's events, or the catalog's own index in the catalog itself."""

    def relations(self, principal_id: str, request: AccessRequest) -> Relations: ...


class AccessGuard:
    def __init__(
        self,
        verifier: TokenVerifier,
        relationships: RelationsSource | None,
        access_log: AccessLog | None,
    ) -> None:
        self.verifier = verifier
        self.relationships = relationships
        self.access_log = access_log

    async def authenticate(self, authorization: str | None) -> tuple[Principal, str]:
        """The principal and the bearer token it was verified from."""
        token = bearer_token(authorization)
        remembered = self.verifier.recall(token)
        if remembered is not None:
            return remembered, token
        return await asyncio.to_thread(self.verifier.verify, token), token

    async def authorize(self, context: RequestContext, request: Asked) -> Decision:
        """Decide (every one of several requests must be allowed), then log the decisions
        about students' records."""
        requests = [request] if not isinstance(request, Sequence) else list(request)
        return await asyncio.to_thread(self._authorize, context, list(dict.fromkeys(requests)))

    def _authorize(self, context: RequestContext, requests: list[AccessRequest]) -> Decision:
        """Blocking: looks relationships up and writes the access log."""
        principal = context.principal
        if not requests:
            return Decision(False, "the request names nothing that could be allowed")
        decided: list[tuple[AccessRequest, Decision]] = []
        for request in requests:
            decision = decide(principal, request, NOTHING_KNOWN)
            if not decision.allowed and principal.roles & RELATIONSHIP_ROLES and self.relationships:
                relations = self.relationships.relations(principal.subject, request)
                decision = decide(principal, request, relations)
            decided.append((request, decision))
            if not decision.allowed:
                break  # one refusal refuses the whole call
        request, decision = decided[-1]
        self._log(context, decided, decision)
        if not decision.allowed:
            log.info(
                "denied %s %s to %s: %s",
                context.endpoint,
                request.kind,
                principal.subject,
                decision.reason,
            )
        return decision if not decision.allowed else decided[0][1]

    def _log(
        self,
        context: RequestContext,
        decided: list[tuple[AccessRequest, Decision]],
        final: Decision,
    ) -> None:
        """One row per student the call was about, with the call's answer: the rows of a call
        refused for another of its students say so."""
        if self.access_log is None:
            return
        rows: list[tuple[str, str | None, bool, str]] = []
        for request, decision in decided:
            student = person_of(request)
            if student is None:
                continue
            reason = decision.reason
            if decision.allowed and not final.allowed:
                reason = f"refused for another student of the same call ({reason})"
            rows.append((request.kind, student, final.allowed, reason))
        self.access_log.record_decisions(context, rows)

    # --- gRPC --------------------------------------------------------------------------------

    def grpc_interceptor(self, rules: Mapping[str, GrpcRule]) -> grpc.aio.ServerInterceptor:
        """Give it to ``start_server`` (``Wiring.interceptors``): every method of the server
        is then checked against ``rules`` (full method names, e.g.
        ``/arc.mastery.v1.MasteryService/GetMastery``)."""
        return _GrpcGuard(self, dict(rules))

    async def _grpc_context(
        self,
        method: str,
        rule: GrpcRule | None,
        handler: grpc.RpcMethodHandler,
        message: Any,
        context: Any,
    ) -> RequestContext:
        """Authenticate and authorize one call (``message``: its request, or the stream of
        them); aborts it when refused."""
        requests = message if handler.request_streaming else None
        metadata = dict(context.invocation_metadata() or ())
        try:
            principal, token = await self.authenticate(metadata.get("authorization"))
        except Unauthenticated as exc:
            await _refuse(context, requests, grpc.StatusCode.UNAUTHENTICATED, str(exc))
            raise
        request_context = RequestContext(
            principal, "grpc", method, context.peer() or "", bearer=token
        )
        if rule is None or isinstance(rule, _Public):  # (public methods never get here)
            log.error("no access rule for %s: refused (add one to the service's rules)", method)
            await _refuse(context, requests, grpc.StatusCode.PERMISSION_DENIED, DENIED)
            raise AssertionError("unreachable: abort raises")
        # A rule decides on the request message; for a client stream, on nothing (None).
        asked = rule(message if requests is None else None)
        decision = await self.authorize(request_context, asked)
        if not decision.allowed:
            await _refuse(context, requests, grpc.StatusCode.PERMISSION_DENIED, DENIED)
        return request_context

    # --- HTTP --------------------------------------------------------------------------------

    def http_dependency(
        self, rules: Mapping[str, HttpRule]
    ) -> Callable[[Request], Awaitable[RequestContext | None]]:
        """A FastAPI dependency for the whole app:
        ``FastAPI(dependencies=[Depends(guard.http_dependency(RULES))])``. Routes are named by
        method and path template: ``"GET /api/v1/students/{student_id}/..."``."""
        table = dict(rules)

        async def check_access(request: Request) -> RequestContext | None:
            route = request.scope.get("route")
            key = f"{request.method} {getattr(route, 'path', request.url.path)}"
            rule = table.get(key)
            if isinstance(rule, _Public):
                return None
            try:
                principal, token = await self.authenticate(request.headers.get("authorization"))
            except Unauthenticated as exc:
                raise HTTPException(
                    401, str(exc), headers={"WWW-Authenticate": 'Bearer realm="arc"'}
                ) from exc
            client = request.client
            address = f"{client.host}:{client.port}" if client else ""
            context = RequestContext(principal, "http", key, address, bearer=token)
            if rule is None:
                log.error("no access rule for %s: refused (add one to the app's rules)", key)
                raise HTTPException(403, DENIED)
            asked = rule(request)
            if inspect.isawaitable(asked):
                asked = await asked
            decision = await self.authorize(context, asked)
            if not decision.allowed:
                raise HTTPException(403, DENIED)
            # Each request runs in its own task: the context ends with it.
            _current.set(context)
            request.state.arc_request = context
            return context

        return check_access


class _GrpcGuard(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, guard: AccessGuard, rules: dict[str, GrpcRule]) -> None:
        self.guard = guard
        self.rules = rules

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method
        rule = self.rules.get(method)
        if handler is None or method in ALWAYS_PUBLIC_METHODS or isinstance(rule, _Public):
            return handler
        guard = self.guard
        if handler.unary_unary or handler.stream_unary:
            inner = handler.unary_unary or handler.stream_unary

            async def unary(message: Any, context: Any) -> Any:
                checked = await guard._grpc_context(method, rule, handler, message, context)
                with serving(checked):
                    result = inner(message, context)
                    return await result if inspect.isawaitable(result) else result

            make = (
                grpc.unary_unary_rpc_method_handler
                if handler.unary_unary
                else grpc.stream_unary_rpc_method_handler
            )
            return make(
                unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        inner_stream = handler.unary_stream or handler.stream_stream

        async def streaming(message: Any, context: Any) -> AsyncIterator[Any]:
            checked = await guard._grpc_context(method, rule, handler, message, context)
            with serving(checked):
                async for item in inner_stream(message, context):
                    yield item

        make_stream = (
            grpc.unary_stream_rpc_method_handler
            if handler.unary_stream
            else grpc.stream_stream_rpc_method_handler
        )
        return make_stream(
            streaming,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


async def _refuse(
    context: Any, requests: AsyncIterator[Any] | None, code: grpc.StatusCode, details: str
) -> None:
    """Abort the call with ``code``. A client still streaming its requests (an upload) is heard
    out first, its messages dropped unread: grpcio's asyncio client reports INTERNAL ("Internal
    error from Core") instead of the server's status when one of its writes meets that status
    on the way (grpc/grpc#36066), so a refusal sent mid-stream would sometimes reach the client
    as INTERNAL. Once the client has half-closed, its writes are over. A stream beyond
    ``HEAR_OUT_BYTES`` or ``HEAR_OUT_SECONDS`` is refused where it stands."""
    if requests is not None:
        await _hear_out(requests)
    await context.abort(code, details)


async def _hear_out(requests: AsyncIterator[Any]) -> None:
    received = 0
    # Whatever befalls the stream (a time-out, a message that does not parse), the answer
    # stays the refusal.
    with contextlib.suppress(Exception):
        async with asyncio.timeout(HEAR_OUT_SECONDS):
            async for request in requests:
                received += request.ByteSize()
                if received > HEAR_OUT_BYTES:
                    return
