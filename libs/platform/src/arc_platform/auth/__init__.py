"""Identity and access for every service: bearer tokens (OIDC/JWT), one access policy, its
enforcement in gRPC and HTTP, the relationships it needs, and the access log.

Wiring a service (see services/mastery/src/arc_mastery/__main__.py)::

    access = access_for(runtime)                          # verifier, relationships, access log
    Wiring(..., interceptors=[access.grpc(GRPC_RULES)],   # every gRPC method checked
           loops=[..., *access.loops])                    # keeps the relationships view
    FastAPI(dependencies=[access.http(HTTP_RULES)])       # every HTTP route checked

Writes take their author from :func:`current_request` (``.actor()``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from fastapi import Depends
from fastapi.params import Depends as DependsParam

from arc_platform.auth.access_log import AccessEntry, AccessLog
from arc_platform.auth.dev_issuer import DEV_ISSUER_URL
from arc_platform.auth.guard import (
    DENIED,
    PUBLIC,
    AccessGuard,
    Asked,
    GrpcRule,
    HttpRule,
    RelationsSource,
)
from arc_platform.auth.policy import (
    AccessRequest,
    Audit,
    ChangeCatalog,
    ForgetStudent,
    ReadCatalog,
    ReadDirectory,
    ReadOperations,
    ReadPerson,
    ReadSchool,
    ReadSection,
    ReadStatements,
    ReadStudent,
    RecordEvidence,
    SendStatements,
    SubscribeEvents,
    decide,
)
from arc_platform.auth.principal import (
    NoRequestContext,
    Principal,
    RequestContext,
    Role,
    current_request,
    current_request_or_none,
)
from arc_platform.auth.relationships import RelationshipsView
from arc_platform.auth.tokens import AuthConfigurationError, TokenSettings, TokenVerifier
from arc_platform.runner import Loop, Runtime
from arc_platform.settings import ServiceSettings
from arc_platform.views import create_engine

__all__ = [
    "DENIED",
    "PUBLIC",
    "Access",
    "AccessEntry",
    "AccessGuard",
    "AccessLog",
    "AccessRequest",
    "Asked",
    "Audit",
    "AuthConfigurationError",
    "ChangeCatalog",
    "ForgetStudent",
    "GrpcRule",
    "HttpRule",
    "NoRequestContext",
    "Principal",
    "ReadCatalog",
    "ReadDirectory",
    "ReadOperations",
    "ReadPerson",
    "ReadSchool",
    "ReadSection",
    "ReadStatements",
    "ReadStudent",
    "RecordEvidence",
    "RelationsSource",
    "RelationshipsView",
    "RequestContext",
    "Role",
    "SendStatements",
    "SubscribeEvents",
    "access_for",
    "current_request",
    "current_request_or_none",
    "decide",
    "token_settings",
]


def token_settings(settings: ServiceSettings) -> TokenSettings:
    """Token verification settings; refuses the dev issuer (or none at all) in production."""
    issuer = settings.oidc_issuer
    if issuer is None:
        if settings.env == "production":
            raise AuthConfigurationError(
                "ARC_OIDC_ISSUER is required with ARC_ENV=production (the dev issuer is"
                " development-only)"
            )
        issuer = DEV_ISSUER_URL
    if settings.env == "production" and not issuer.startswith("https://"):
        raise AuthConfigurationError(f"ARC_OIDC_ISSUER must be https in production: {issuer}")
    return TokenSettings(
        issuer=issuer.rstrip("/"),
        audience=settings.oidc_audience,
        jwks_url=settings.oidc_jwks_url
        or (f"{DEV_ISSUER_URL}/jwks.json" if settings.oidc_issuer is None else None),
        algorithms=frozenset(a.strip() for a in settings.oidc_algorithms.split(",") if a.strip()),
        roles_claim=settings.oidc_roles_claim,
        person_claim=settings.oidc_person_claim,
        leeway_seconds=settings.oidc_leeway_seconds,
        jwks_cache_seconds=settings.oidc_jwks_cache_seconds,
        jwks_cooldown_seconds=settings.oidc_jwks_cooldown_seconds,
    )


@dataclass
class Access:
    """What a service adds to its wiring to be protected."""

    guard: AccessGuard
    relationships: RelationsSource
    log: AccessLog
    loops: list[Loop] = field(default_factory=list)

    def grpc(self, rules: dict[str, GrpcRule]) -> grpc.aio.ServerInterceptor:
        return self.guard.grpc_interceptor(rules)

    def http(self, rules: dict[str, HttpRule]) -> DependsParam:
        dependency: DependsParam = Depends(self.guard.http_dependency(rules))
        return dependency


def access_for(runtime: Runtime, relationships: RelationsSource | None = None) -> Access:
    """Token verifier from the settings; relationships view and access log in the service's own
    database (its views database); the consumer keeping the relationships view. A service that
    knows the relationships itself (the catalog) passes ``relationships``: then no view is
    kept."""
    settings = runtime.settings
    engine = create_engine(settings)
    log = AccessLog(engine)
    loops: list[Loop] = []
    if relationships is None:
        view = RelationshipsView(engine)
        loops.append(view.consumer(runtime.js).run)
        relationships = view
    guard = AccessGuard(TokenVerifier(token_settings(settings)), relationships, log)
    return Access(guard, relationships, log, loops=loops)
