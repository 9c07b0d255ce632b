"""Who is asking: the principal a verified token names, and the request context (who, from which
client, when) that the API adapters set for the duration of one call.

Services read the context when they write, so that every stored change says who made it::

    from arc_platform.auth import current_request

    actor = current_request().actor()        # {"by": "teacher-ada", "roles": [...], ...}
    app.record_attempt(draft, actor=actor)   # stored with the domain event
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class Role(StrEnum):
    """The roles a token may carry (claim ``roles`` unless ARC_OIDC_ROLES_CLAIM says otherwise)."""

    STUDENT = "student"
    GUARDIAN = "guardian"
    TEACHER = "teacher"
    LEADER = "leader"
    NETWORK_ADMIN = "network_admin"
    AUDITOR = "auditor"
    INTEGRATOR = "integrator"
    #: A system that sends evidence as xAPI statements (an assessment tool, an LMS).
    TOOL = "tool"


@dataclass(frozen=True)
class Principal:
    """An authenticated person or system: ``subject`` is their catalog person id."""

    subject: str
    roles: frozenset[Role]
    name: str = ""
    #: The OAuth client the token was issued to (``azp`` or ``client_id``), when it says.
    client_id: str = ""

    def has(self, role: Role) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class RequestContext:
    """One API call: who made it, through which client, from where, and when."""

    principal: Principal
    transport: str  # "grpc" or "http"
    endpoint: str  # the gRPC method or "GET /api/v1/..."
    client_address: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: The caller's bearer token, to forward on calls made on their behalf (never logged).
    bearer: str = field(default="", repr=False)

    def actor(self) -> dict[str, object]:
        """What a service stores with each change it makes on this request's behalf. Plain
        values only: a role is stored as its name, the same JSON its enum is written as, but an
        enum in a stored event sent every write through the store's slow encoder (see
        ``arc_platform.transcoder``)."""
        return {
            "by": self.principal.subject,
            "roles": sorted(role.value for role in self.principal.roles),
            "client_id": self.principal.client_id,
            "client_address": self.client_address,
            "at": self.at.isoformat(),
            "via": f"{self.transport} {self.endpoint}",
        }


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "arc_request", default=None
)


class NoRequestContext(RuntimeError):
    """A write was attempted outside an authenticated request."""


def current_request() -> RequestContext:
    """The context of the request being served; raises outside one (writes must have an author)."""
    found = _current.get()
    if found is None:
        raise NoRequestContext("no authenticated request in progress")
    return found


def current_request_or_none() -> RequestContext | None:
    return _current.get()


@contextmanager
def serving(context: RequestContext) -> Iterator[RequestContext]:
    """Make ``context`` current while one request is handled."""
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
