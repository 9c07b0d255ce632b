"""Enforcing the access policy at the edge of a service: a gRPC server interceptor and a FastAPI
dependency, both driven by a table of rules ("this endpoint is this kind of request").

An endpoint without a rule is closed (PERMISSION_DENIED / 403). A denied request gets the same
answer whether or not the record exists: the decision is taken before anything is looked up,
from the catalog's relationships only. Every decision about a student's records is written to
the access log.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Final

import grpc
from fastapi import HTTPException, Request

from arc_platform.auth.access_log import AccessLog
from arc_platform.auth.policy import (
    NOTHING_KNOWN,
    AccessRequest,
    Decision,
    ReadStudent,
    RecordEvidence,
    decide,
)
from arc_platform.auth.principal import Principal, RequestContext, Role, _current, serving
from arc_platform.auth.relationships import RelationshipsView
from arc_platform.auth.tokens import TokenVerifier, Unauthenticated, bearer_token

log = logging.getLogger(__name__)

#: The one answer to a refused request, whether the record exists or not.
DENIED = "permission denied"


class _Public:
    """Marks an endpoint open without a token (health checks)."""

    def __repr__(self) -> str:
        return "PUBLIC"


PUBLIC: Final = _Public()
#: gRPC rules: full method name → request message → access request (or PUBLIC).
GrpcRule = Callable[[Any], AccessRequest] | _Public
#: HTTP rules: "GET /path/{param}" (the route's template) → request → access request (or PUBLIC).
HttpRule = Callable[[Request], AccessRequest] | _Public
ALWAYS_PUBLIC_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})
RELATIONSHIP_ROLES = frozenset({Role.GUARDIAN, Role.TEACHER, Role.LEADER})


class AccessGuard:
    def __init__(
        self,
        verifier: TokenVerifier,
        relationships: RelationshipsView | None,
        access_log: AccessLog | None,
    ) -> None:
        self.verifier = verifier
        self.relationships = relationships
        self.access_log = access_log

    async def authenticate(self, authorization: str | None) -> tuple[Principal, str]:
        """The principal and the bearer token it was verified from."""
        token = bearer_token(authorization)
        return await asyncio.to_thread(self.verifier.verify, token), token

    async def authorize(self, context: RequestContext, request: AccessRequest) -> Decision:
        """Decide, then log the decision when it is about a student's records."""
        principal = context.principal
        decision = decide(principal, request, NOTHING_KNOWN)
        if not decision.allowed and principal.roles & RELATIONSHIP_ROLES and self.relationships:
            relations = await asyncio.to_thread(
                self.relationships.relations, principal.subject, request
            )
            decision = decide(principal, request, relations)
        student = request.student_id if isinstance(request, ReadStudent | RecordEvidence) else None
        if self.access_log is not None and student is not None:
            await asyncio.to_thread(
                self.access_log.record,
                context,
                request.kind,
                [student],
                decision.allowed,
                decision.reason,
            )
        if not decision.allowed:
            log.info(
                "denied %s %s to %s: %s",
                context.endpoint,
                request.kind,
                principal.subject,
                decision.reason,
            )
        return decision

    # --- gRPC --------------------------------------------------------------------------------

    def grpc_interceptor(self, rules: Mapping[str, GrpcRule]) -> grpc.aio.ServerInterceptor:
        """Give it to ``start_server`` (``Wiring.interceptors``): every method of the server
        is then checked against ``rules`` (full method names, e.g.
        ``/arc.mastery.v1.MasteryService/GetMastery``)."""
        return _GrpcGuard(self, dict(rules))

    async def _grpc_context(
        self, method: str, rule: GrpcRule | None, message: Any, context: Any
    ) -> RequestContext:
        """Authenticate and authorize one call; aborts it when refused."""
        metadata = dict(context.invocation_metadata() or ())
        try:
            principal, token = await self.authenticate(metadata.get("authorization"))
        except Unauthenticated as exc:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
            raise
        request_context = RequestContext(
            principal, "grpc", method, context.peer() or "", bearer=token
        )
        if rule is None or isinstance(rule, _Public):  # (public methods never get here)
            log.error("no access rule for %s: refused (add one to the service's rules)", method)
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, DENIED)
            raise AssertionError("unreachable: abort raises")
        decision = await self.authorize(request_context, rule(message))
        if not decision.allowed:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, DENIED)
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
            decision = await self.authorize(context, rule(request))
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
                checked = await guard._grpc_context(method, rule, _first(handler, message), context)
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
            checked = await guard._grpc_context(method, rule, _first(handler, message), context)
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


def _first(handler: grpc.RpcMethodHandler, message: Any) -> Any:
    """The request message a rule looks at: for a client stream, none (rules see ``None``)."""
    return None if handler.request_streaming else message
