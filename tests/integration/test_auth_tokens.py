"""Bearer tokens checked against a real issuer's JWKS over HTTP (the dev issuer): claims,
algorithms, rotation, and the refusals that matter (alg none, HS/RS confusion, wrong audience…)."""

from __future__ import annotations

import base64
import hmac
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from arc_platform.auth import AuthConfigurationError, Role, token_settings
from arc_platform.auth.dev_issuer import DevIssuer, DevIssuerServer, RefusedInProduction
from arc_platform.auth.tokens import TokenSettings, TokenVerifier, Unauthenticated
from arc_platform.settings import ServiceSettings


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[DevIssuerServer]:
    server = DevIssuerServer(tmp_path / "keys").start()
    yield server
    server.stop()


def verifier_for(issuer: DevIssuerServer, **overrides: Any) -> TokenVerifier:
    settings = {"issuer": issuer.url, "audience": "arc"} | overrides
    return TokenVerifier(TokenSettings(**settings))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], claims: dict[str, Any], sign: bytes | None = None) -> str:
    """A token built by hand, as an attacker would (PyJWT refuses to make these)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = b"" if sign is None else hmac.new(sign, signing_input.encode(), "sha256").digest()
    return f"{signing_input}.{_b64(signature)}"


def claims_of(issuer: DevIssuerServer, **extra: Any) -> dict[str, Any]:
    token = issuer.issuer.token("teacher", **extra)
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def test_a_teachers_token_names_the_person_their_roles_and_client(
    issuer: DevIssuerServer,
) -> None:
    principal = verifier_for(issuer).verify(issuer.issuer.token("teacher", client_id="gradebook"))
    assert principal.subject == "teacher-demo"
    assert principal.roles == frozenset({Role.TEACHER})
    assert principal.client_id == "gradebook"


def test_the_jwks_url_is_found_through_discovery(issuer: DevIssuerServer) -> None:
    verifier = verifier_for(issuer)  # no jwks_url: the discovery document names it
    verifier.verify(issuer.issuer.token("auditor"))
    assert "/.well-known/openid-configuration" in issuer.requests
    assert "/jwks.json" in issuer.requests


@pytest.mark.parametrize(
    ("case", "extra"),
    [
        ("expired", {"exp": -120}),  # times: seconds from when the test runs
        ("not yet valid", {"nbf": 600}),
        ("for another audience", {"aud": "someone-else"}),
        ("from another issuer", {"iss": "https://evil.example"}),
        ("without a subject", {"sub": ""}),
    ],
)
def test_tokens_whose_claims_do_not_hold_are_refused(
    issuer: DevIssuerServer, case: str, extra: dict[str, Any]
) -> None:
    # Times are made when the test runs, not when it is collected (a long run reached this
    # test after the "not yet valid" time had passed).
    now = int(time.time())
    claims = {k: now + v if k in ("exp", "nbf") else v for k, v in extra.items()}
    token = issuer.issuer.token("admin", **claims)
    with pytest.raises(Unauthenticated):
        verifier_for(issuer).verify(token)


def test_a_token_without_expiry_is_refused(issuer: DevIssuerServer) -> None:
    claims = claims_of(issuer)
    del claims["exp"]
    key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(issuer.issuer._keys[-1]))
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": issuer.issuer.kid})  # type: ignore[arg-type]
    with pytest.raises(Unauthenticated, match="exp"):
        verifier_for(issuer).verify(token)


def test_alg_none_is_refused(issuer: DevIssuerServer) -> None:
    token = handmade({"alg": "none", "kid": issuer.issuer.kid}, claims_of(issuer))
    with pytest.raises(Unauthenticated, match="not accepted"):
        verifier_for(issuer).verify(token)


def test_hs256_signed_with_the_public_key_is_refused(issuer: DevIssuerServer) -> None:
    """HS/RS confusion: the attacker signs with HMAC, using the published RSA key as secret."""
    public = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(issuer.issuer.jwks()["keys"][0]))
    pem = public.public_bytes(  # type: ignore[union-attr]
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    claims = claims_of(issuer) | {"roles": ["network_admin"]}
    for alg in ("HS256", "RS256"):  # RS256 in the header but an HMAC signature: still refused
        token = handmade({"alg": alg, "kid": issuer.issuer.kid}, claims, sign=pem)
        with pytest.raises(Unauthenticated):
            verifier_for(issuer).verify(token)


def test_a_changed_payload_breaks_the_signature(issuer: DevIssuerServer) -> None:
    header, _, signature = issuer.issuer.token("student").split(".")
    forged = claims_of(issuer) | {"roles": ["network_admin"]}
    token = f"{header}.{_b64(json.dumps(forged).encode())}.{signature}"
    with pytest.raises(Unauthenticated, match="Signature"):
        verifier_for(issuer).verify(token)


def test_rotated_keys_are_fetched_once_and_old_tokens_keep_working(
    issuer: DevIssuerServer,
) -> None:
    verifier = verifier_for(issuer, jwks_url=f"{issuer.url}/jwks.json", jwks_cooldown_seconds=0)
    before = issuer.issuer.token("teacher")
    verifier.verify(before)
    assert issuer.requests.count("/jwks.json") == 1
    verifier.verify(issuer.issuer.token("teacher"))
    assert issuer.requests.count("/jwks.json") == 1, "the key set is cached"

    issuer.issuer.rotate()
    verifier.verify(issuer.issuer.token("teacher"))  # unknown kid: refetched once
    assert issuer.requests.count("/jwks.json") == 2
    verifier.verify(before)  # signed with the previous key, still published
    assert issuer.requests.count("/jwks.json") == 2


def test_unknown_key_ids_cannot_hammer_the_issuer(issuer: DevIssuerServer) -> None:
    verifier = verifier_for(issuer, jwks_url=f"{issuer.url}/jwks.json", jwks_cooldown_seconds=60)
    verifier.verify(issuer.issuer.token("teacher"))
    claims = claims_of(issuer)
    for n in range(5):
        token = handmade({"alg": "RS256", "kid": f"random-{n}"}, claims, sign=b"x")
        with pytest.raises(Unauthenticated):
            verifier.verify(token)
    assert issuer.requests.count("/jwks.json") == 1


def test_an_unreachable_issuer_means_unauthenticated_not_a_crash(tmp_path: Path) -> None:
    server = DevIssuerServer(tmp_path / "keys").start()
    token = server.issuer.token("teacher")
    verifier = TokenVerifier(
        TokenSettings(issuer=server.url, audience="arc", jwks_url=f"{server.url}/jwks.json")
    )
    server.stop()
    with pytest.raises(Unauthenticated, match="unavailable"):
        verifier.verify(token)


def test_roles_may_come_from_a_nested_claim(issuer: DevIssuerServer) -> None:
    token = issuer.issuer.token("teacher", realm_access={"roles": ["auditor", "unknown-role"]})
    principal = verifier_for(issuer, roles_claim="realm_access.roles").verify(token)
    assert principal.roles == frozenset({Role.AUDITOR})


def test_symmetric_algorithms_cannot_be_configured() -> None:
    for algorithms in ({"HS256"}, {"RS256", "none"}, set()):
        with pytest.raises(AuthConfigurationError):
            TokenSettings(
                issuer="https://id.example", audience="arc", algorithms=frozenset(algorithms)
            )


def test_production_needs_a_real_https_issuer() -> None:
    production = ServiceSettings(service_name="mastery", env="production")
    with pytest.raises(AuthConfigurationError, match="ARC_OIDC_ISSUER is required"):
        token_settings(production)
    plain = production.model_copy(update={"oidc_issuer": "http://127.0.0.1:4380"})
    with pytest.raises(AuthConfigurationError, match="https"):
        token_settings(plain)
    real = production.model_copy(update={"oidc_issuer": "https://id.example/realms/arc"})
    assert token_settings(real).issuer == "https://id.example/realms/arc"


def test_the_dev_issuer_refuses_to_start_in_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARC_ENV", "production")
    with pytest.raises(RefusedInProduction):
        DevIssuer(tmp_path / "keys")
    with pytest.raises(RefusedInProduction):
        DevIssuerServer(tmp_path / "keys")
    command = [sys.executable, "-m", "arc_platform.auth.dev_issuer", "--keys", str(tmp_path)]
    done = subprocess.run(
        [*command, "serve", "--port", "0"],
        env={**os.environ, "ARC_ENV": "production"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "development-only" in done.stderr


def test_the_dev_issuer_command_prints_tokens_the_verifier_accepts(tmp_path: Path) -> None:
    server = DevIssuerServer(tmp_path / "keys").start()
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "arc_platform.auth.dev_issuer",
                "--keys",
                str(tmp_path / "keys"),
                "token",
                "guardian",
                "--issuer",
                server.url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        principal = verifier_for(server).verify(done.stdout.strip())
        assert principal.subject == "guardian-001" and principal.roles == {Role.GUARDIAN}
    finally:
        server.stop()


def test_jwks_publishes_public_keys_only(issuer: DevIssuerServer) -> None:
    issuer.issuer.rotate()
    keys = issuer.issuer.jwks()["keys"]
    assert len(keys) == 2
    for key in keys:
        assert set(key) == {"kty", "n", "e", "kid", "alg", "use"}  # no private part ("d", "p"…)


def test_a_verified_token_is_remembered_until_it_expires(issuer: DevIssuerServer) -> None:
    """Repeat requests skip the signature check, but a remembered token still expires."""
    verifier = verifier_for(issuer, leeway_seconds=0)
    token = issuer.issuer.token("teacher", exp=int(time.time()) + 2)
    first = verifier.verify(token)
    checked: list[str] = []
    original = verifier._verify

    def counting(token: str) -> Any:
        checked.append(token)
        return original(token)

    verifier._verify = counting  # type: ignore[method-assign]
    assert verifier.verify(token) == first
    assert checked == []  # served from memory
    deadline = time.time() + 10
    while time.time() < deadline:  # the token's exp passes (whole seconds)
        try:
            verifier.verify(token)
        except Unauthenticated as refused:
            assert "expired" in str(refused)
            break
        time.sleep(0.2)
    else:
        pytest.fail("an expired token was still accepted")
    assert checked == [token]  # expired in memory, so checked again, and refused
