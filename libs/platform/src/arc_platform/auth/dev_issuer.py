"""DEVELOPMENT ONLY: a tiny OpenID Connect token issuer for the demo and the tests.

It signs RS256 tokens for demo users (one per role) and serves its public keys (JWKS) and a
discovery document over HTTP, so the services verify its tokens exactly as they would a real
identity provider's. It has no login: anyone who can reach it gets any demo user's token. It
refuses to start when ``ARC_ENV=production``.

    python -m arc_platform.auth.dev_issuer serve [--port 4380] [--keys var/dev-issuer]
    python -m arc_platform.auth.dev_issuer token teacher     # prints a token
    python -m arc_platform.auth.dev_issuer users

HTTP: ``/.well-known/openid-configuration``, ``/jwks.json``, ``/users``, ``/token/<user>``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from arc_platform.auth.principal import Role

DEV_ISSUER_PORT = 4380
DEV_ISSUER_URL = f"http://127.0.0.1:{DEV_ISSUER_PORT}"
DEFAULT_AUDIENCE = "arc"
BANNER = "DEVELOPMENT ONLY: arc dev issuer — hands out tokens without a login"


class RefusedInProduction(RuntimeError):
    pass


def refuse_in_production() -> None:
    if os.environ.get("ARC_ENV", "development").lower() == "production":
        raise RefusedInProduction(
            "the arc dev issuer is development-only and refuses to run with ARC_ENV=production;"
            " configure ARC_OIDC_ISSUER with your identity provider instead"
        )


@dataclass(frozen=True)
class DemoUser:
    subject: str
    roles: tuple[Role, ...]
    name: str


#: One user per role; subjects are catalog person ids of the demo sample.
DEMO_USERS: dict[str, DemoUser] = {
    "student": DemoUser("stu-001", (Role.STUDENT,), "Sam Student"),
    "guardian": DemoUser("guardian-001", (Role.GUARDIAN,), "Gale Guardian"),
    "teacher": DemoUser("teacher-demo", (Role.TEACHER,), "Tess Teacher"),
    "leader": DemoUser("leader-demo", (Role.LEADER,), "Lee Leader"),
    "admin": DemoUser("admin-demo", (Role.NETWORK_ADMIN,), "Ada Admin"),
    "auditor": DemoUser("auditor-demo", (Role.AUDITOR,), "Aud Auditor"),
    "integrator": DemoUser("integrator-demo", (Role.INTEGRATOR,), "SIS Integration"),
    "tool": DemoUser("tool-demo", (Role.TOOL,), "Quiz Tool (xAPI)"),
}


class DevIssuer:
    """Signing keys kept (as JWKs) in ``keys_dir/keys.json``: the newest signs, all are served
    so that tokens signed before a :meth:`rotate` keep verifying until they expire."""

    def __init__(self, keys_dir: Path, url: str = DEV_ISSUER_URL) -> None:
        refuse_in_production()
        self.url = url.rstrip("/")
        self.path = keys_dir / "keys.json"
        self._lock = threading.Lock()
        if self.path.exists():
            self._keys: list[dict[str, Any]] = json.loads(self.path.read_text())
        else:
            self._keys = []
            self.rotate()

    def rotate(self) -> str:
        """A new signing key (returns its kid); previous keys stay published."""
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(private))
        kid = uuid.uuid4().hex[:16]
        jwk.update({"kid": kid, "alg": "RS256", "use": "sig"})
        with self._lock:
            self._keys.append(jwk)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self._keys))
            self.path.chmod(0o600)
        return kid

    @property
    def kid(self) -> str:
        return str(self._keys[-1]["kid"])

    def jwks(self) -> dict[str, Any]:
        public = ("kty", "n", "e", "kid", "alg", "use")
        return {"keys": [{k: key[k] for k in public} for key in self._keys]}

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/jwks.json",
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
            "response_types_supported": ["token"],
        }

    def token(
        self,
        user: str | DemoUser,
        *,
        audience: str = DEFAULT_AUDIENCE,
        lifetime_seconds: int = 3600,
        client_id: str = "arc-dev",
        **claims: Any,
    ) -> str:
        """A signed token for a demo user (by name) or any :class:`DemoUser`."""
        who = DEMO_USERS[user] if isinstance(user, str) else user
        now = int(time.time())
        payload: dict[str, Any] = {
            "iss": self.url,
            "aud": audience,
            "sub": who.subject,
            "name": who.name,
            "roles": [r.value for r in who.roles],
            "azp": client_id,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime_seconds,
            "jti": uuid.uuid4().hex,
        } | claims
        private = RSAAlgorithm.from_jwk(json.dumps(self._keys[-1]))
        assert isinstance(private, rsa.RSAPrivateKey)
        return jwt.encode(payload, private, algorithm="RS256", headers={"kid": self.kid})


class _Handler(BaseHTTPRequestHandler):
    server: DevIssuerServer

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/.well-known/openid-configuration":
            self._json(self.server.issuer.discovery())
        elif path == "/jwks.json":
            self._json(self.server.issuer.jwks())
        elif path == "/users":
            self._json({name: [r.value for r in u.roles] for name, u in DEMO_USERS.items()})
        elif path.startswith("/token/") and path.removeprefix("/token/") in DEMO_USERS:
            token = self.server.issuer.token(path.removeprefix("/token/"))
            self._json({"access_token": token, "token_type": "Bearer", "warning": BANNER})
        else:
            self._json({"error": "not found"}, 404)

    def _json(self, body: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


class DevIssuerServer(ThreadingHTTPServer):
    """The dev issuer over HTTP, in a background thread (``start``) or in the foreground."""

    daemon_threads = True

    def __init__(self, keys_dir: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        refuse_in_production()
        super().__init__((host, port), _Handler)
        self.issuer = DevIssuer(keys_dir, f"http://{host}:{self.server_address[1]}")
        #: Paths asked for, in order (tests count JWKS fetches).
        self.requests: list[str] = []
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.issuer.url

    def start(self) -> DevIssuerServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def service_env(self, audience: str = DEFAULT_AUDIENCE) -> dict[str, str]:
        """What a service needs to trust this issuer."""
        return {
            "ARC_OIDC_ISSUER": self.url,
            "ARC_OIDC_AUDIENCE": audience,
            "ARC_OIDC_JWKS_URL": f"{self.url}/jwks.json",
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arc-dev-issuer", description=BANNER)
    parser.add_argument("--keys", type=Path, default=Path("var/dev-issuer"))
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve JWKS, discovery and demo tokens over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEV_ISSUER_PORT)
    token = commands.add_parser("token", help="print a token for a demo user")
    token.add_argument("user", choices=sorted(DEMO_USERS))
    token.add_argument("--issuer", default=DEV_ISSUER_URL)
    token.add_argument("--audience", default=DEFAULT_AUDIENCE)
    commands.add_parser("users", help="list the demo users")
    args = parser.parse_args(argv)
    try:
        if args.command == "users":
            for name, user in DEMO_USERS.items():
                print(f"{name:<11} {user.subject:<16} {', '.join(user.roles)}")
        elif args.command == "token":
            print(DevIssuer(args.keys, args.issuer).token(args.user, audience=args.audience))
        else:
            server = DevIssuerServer(args.keys, args.host, args.port)
            print(f"{BANNER}\nissuer {server.url} (keys in {args.keys})", file=sys.stderr)
            server.serve_forever()
    except RefusedInProduction as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
