"""Settings every service shares, read from ``ARC_*`` environment variables.

Each service subclasses :class:`ServiceSettings` (one model per service) and adds its own fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from arc_platform.limits import Limits


class ServiceSettings(Limits):
    """Also the request limits every service enforces (:mod:`arc_platform.limits`)."""

    model_config = SettingsConfigDict(env_prefix="ARC_", extra="ignore")

    service_name: str = Field(description="Name used in logs, traces and CloudEvents source.")
    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server(s), comma separated.")
    data_dir: Path = Field(Path("var"), description="Where SQLite files live (embedded default).")
    database_url: str | None = Field(
        None,
        description="postgresql://user[:password]@host:port/db for PostgreSQL; unset for SQLite.",
    )
    database_schema: str | None = Field(
        None, description="PostgreSQL schema for this service's tables (default: service name)."
    )
    database_wait_seconds: int = Field(
        1,
        ge=1,
        description="How long a store call waits for a PostgreSQL connection before failing "
        "(the store library tries 10 times): while the database is away, a request is "
        "answered 'retry later' after about 12 times this.",
    )
    keyvault_url: str | None = Field(
        None,
        description="The key vault of personal-data keys (arc_platform.erasure), a database "
        "apart from every event store: postgresql://… or sqlite:///…; unset: "
        "<data_dir>/keyvault.sqlite, shared by the services on one machine.",
    )
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 0
    http_host: str = "127.0.0.1"
    http_port: int = Field(0, description="HTTP/JSON API port (each service has its own default).")
    relay_enabled: bool = Field(True, description="Run the outbox relay inside the service.")
    relay_poll_seconds: float = Field(0.2, description="Relay polling interval when idle.")
    relay_batch_size: int = 500
    duplicate_window_seconds: int = Field(
        24 * 3600, description="JetStream dedup window; must outlast any relay outage."
    )
    partitions: int = Field(
        4, ge=1, description="Partitions of per-student subjects; the same everywhere, fixed."
    )
    partition_ids: str | None = Field(
        None,
        description="Pin this replica to these partitions, e.g. '0,2' (default: balanced "
        "among the live replicas).",
    )
    stream_replicas: int = Field(1, description="JetStream stream replicas (3 in production).")
    ready_max_lag: int = Field(
        0, ge=0, description="Not ready when a consumer is more messages behind; 0: no limit."
    )
    env: Literal["development", "production"] = Field(
        "development",
        description="production refuses development-only conveniences (the dev token issuer).",
    )
    oidc_issuer: str | None = Field(
        None,
        description="OpenID Connect issuer (iss) of bearer tokens; unset: the local dev issuer"
        " (http://127.0.0.1:4380), refused in production.",
    )
    oidc_audience: str = Field("arc", description="Audience (aud) tokens must be issued for.")
    oidc_jwks_url: str | None = Field(
        None, description="The issuer's JWKS; unset: from its discovery document."
    )
    oidc_algorithms: str = Field(
        "RS256,PS256,ES256,EdDSA", description="Accepted signature algorithms (asymmetric only)."
    )
    oidc_roles_claim: str = Field("roles", description="Claim (dotted path) holding the roles.")
    oidc_person_claim: str = Field("sub", description="Claim holding the catalog person id.")
    oidc_leeway_seconds: int = Field(30, ge=0, description="Clock skew allowed on exp/nbf.")
    oidc_jwks_cache_seconds: float = Field(300.0, gt=0, description="How long keys are cached.")
    oidc_jwks_cooldown_seconds: float = Field(
        5.0, ge=0, description="Minimum time between refetches for an unknown key id."
    )

    def pinned_partitions(self) -> list[int] | None:
        """Partitions this replica is pinned to, or None to share them with live replicas."""
        if not self.partition_ids:
            return None
        return sorted({int(p) for p in self.partition_ids.split(",") if p.strip()})

    @property
    def uses_postgres(self) -> bool:
        return bool(self.database_url)

    @property
    def db_schema(self) -> str:
        return self.database_schema or self.service_name

    def service_dir(self) -> Path:
        path = self.data_dir / self.service_name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def keyvault(self) -> str:
        """The key vault's database URL."""
        if self.keyvault_url:
            return self.keyvault_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / 'keyvault.sqlite'}"

    def eventsourcing_env(self) -> dict[str, str]:
        """Environment for eventsourcing's persistence modules (see its docs)."""
        # Stored events are written by orjson where that writes the same bytes (see
        # arc_platform.transcoder); read by the library's decoder either way.
        written_by = {"TRANSCODER_TOPIC": "arc_platform.transcoder:FastJSONTranscoder"}
        if not self.database_url:
            return {
                **written_by,
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.service_dir() / "events.sqlite"),
                "SQLITE_LOCK_TIMEOUT": "10",
            }
        url = urlsplit(self.database_url)
        return {
            **written_by,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_SCHEMA": self.db_schema,
            "CREATE_TABLE": "y",
            # The library's default wait is 30 s, times its 10 tries: 5 minutes before a caller
            # hears that the database is away. Broken pooled connections (after a restart) are
            # dropped on failure and retried by the library, so no pre-ping is needed.
            "POSTGRES_CONNECT_TIMEOUT": str(self.database_wait_seconds),
        }

    def views_url(self) -> str:
        """SQLAlchemy URL for this service's read models (same database as its events)."""
        if not self.database_url:
            return f"sqlite:///{self.service_dir() / 'views.sqlite'}"
        return self.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
