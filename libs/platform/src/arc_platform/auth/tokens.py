"""Verifying OpenID Connect bearer tokens (JWT) with PyJWT against the issuer's JWKS.

- The JWKS is fetched from ``ARC_OIDC_JWKS_URL`` or from the issuer's discovery document, and
  cached (``ARC_OIDC_JWKS_CACHE_SECONDS``); a token whose ``kid`` is not in the cached set makes
  the verifier fetch the set once more (rotated keys), at most once per
  ``ARC_OIDC_JWKS_COOLDOWN_SECONDS`` so random ``kid`` values cannot hammer the issuer.
- ``exp``, ``iss``, ``aud`` and ``sub`` are required; ``nbf`` is checked when present.
- Only asymmetric algorithms are accepted (an allow-list), and the key decides the algorithm:
  ``alg: none`` and HS256-signed-with-the-public-key ("HS/RS confusion") are refused.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import PyJWKClient

from arc_platform.auth.principal import Principal, Role

log = logging.getLogger(__name__)

#: Signature algorithms with a public verification key. HS* (shared secrets) and "none" are not
#: here and cannot be configured.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class Unauthenticated(Exception):
    """No token, or a token that does not verify. The message is safe to show the caller."""


class AuthConfigurationError(RuntimeError):
    """Settings that would leave the service open or unable to verify anything."""


@dataclass(frozen=True)
class TokenSettings:
    issuer: str
    audience: str
    jwks_url: str | None = None
    algorithms: frozenset[str] = frozenset({"RS256", "PS256", "ES256", "EdDSA"})
    roles_claim: str = "roles"
    person_claim: str = "sub"
    leeway_seconds: int = 30
    jwks_cache_seconds: float = 300.0
    jwks_cooldown_seconds: float = 5.0

    def __post_init__(self) -> None:
        unsafe = set(self.algorithms) - ASYMMETRIC_ALGORITHMS
        if unsafe or not self.algorithms:
            raise AuthConfigurationError(
                f"oidc_algorithms: only asymmetric algorithms are accepted, not {sorted(unsafe)}"
            )


def discover_jwks_url(issuer: str, timeout: float = 10.0) -> str:
    """The ``jwks_uri`` of the issuer's OpenID Connect discovery document."""
    if not issuer.startswith(("https://", "http://")):
        raise AuthConfigurationError(f"oidc_issuer: {issuer!r} is not an http(s) URL")
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    with urllib.request.urlopen(url, timeout=timeout) as response:
        document = json.load(response)
    found = document.get("jwks_uri")
    if not isinstance(found, str):
        raise AuthConfigurationError(f"{url} has no jwks_uri")
    return found


def _claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by dotted path, e.g. ``realm_access.roles``."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def roles_from(value: Any) -> frozenset[Role]:
    names: Iterable[Any] = [value] if isinstance(value, str) else (value or [])
    known = {r.value for r in Role}
    return frozenset(Role(n) for n in names if isinstance(n, str) and n in known)


class TokenVerifier:
    """Turns a bearer token into a :class:`Principal`, or raises :class:`Unauthenticated`."""

    #: Verified tokens kept (a signature check per request cost more than the request's
    #: own work); each hit re-checks the token's time window, so nothing outlives its ``exp``.
    max_remembered = 10_000

    def __init__(self, settings: TokenSettings) -> None:
        self.settings = settings
        self._client: PyJWKClient | None = None
        self._verified: dict[str, tuple[Principal, float, float]] = {}

    def _keys(self) -> PyJWKClient:
        if self._client is None:
            url = self.settings.jwks_url or discover_jwks_url(self.settings.issuer)
            self._client = PyJWKClient(
                url,
                cache_jwk_set=True,
                lifespan=self.settings.jwks_cache_seconds,
                cooldown_duration=self.settings.jwks_cooldown_seconds,
                timeout=10,
            )
        return self._client

    def recall(self, token: str) -> Principal | None:
        """The principal of a token verified before and still within its time window (never
        blocks: async code asks this first)."""
        remembered = self._verified.get(token)
        if remembered is None:
            return None
        principal, not_before, expires = remembered
        if not_before <= time.time() < expires:
            return principal
        self._verified.pop(token, None)
        return None

    def verify(self, token: str) -> Principal:
        """Blocking (it may fetch the JWKS): call it from a worker thread in async code."""
        remembered = self.recall(token)
        if remembered is not None:
            return remembered
        principal, claims = self._verify(token)
        leeway = self.settings.leeway_seconds
        if len(self._verified) >= self.max_remembered:
            self._verified.clear()
        self._verified[token] = (
            principal,
            float(claims.get("nbf", 0)) - leeway,
            float(claims["exp"]) + leeway,
        )
        return principal

    def _verify(self, token: str) -> tuple[Principal, dict[str, Any]]:
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") not in s.algorithms:
                raise Unauthenticated(f"token algorithm {header.get('alg')!r} is not accepted")
            key = self._keys().get_signing_key_from_jwt(token)
            if key.algorithm_name != header["alg"]:
                raise Unauthenticated("token algorithm does not match its key")
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[key.algorithm_name],
                audience=s.audience,
                issuer=s.issuer,
                leeway=s.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except Unauthenticated:
            raise
        except jwt.PyJWKClientConnectionError as exc:
            log.warning("cannot fetch the issuer's keys: %s", exc)
            raise Unauthenticated("the token issuer's keys are unavailable") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from exc
        subject = _claim(claims, s.person_claim)
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated(f"token has no {s.person_claim!r} claim")
        principal = Principal(
            subject=subject,
            roles=roles_from(_claim(claims, s.roles_claim)),
            name=str(claims.get("name", "")),
            client_id=str(claims.get("azp") or claims.get("client_id") or ""),
        )
        return principal, claims


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` value."""
    if not authorization:
        raise Unauthenticated("missing bearer token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("expected 'Authorization: Bearer <token>'")
    return token.strip()
