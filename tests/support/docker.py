"""testcontainers, when a Docker engine answers; otherwise nothing (local binaries are used)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


def docker_reachable() -> bool:
    if os.environ.get("ARC_TEST_NO_DOCKER") == "1":
        return False
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


@contextmanager
def nats_from_testcontainers() -> Iterator[str | None]:
    """Yield a JetStream-enabled NATS URL from a container, or None without Docker."""
    if not docker_reachable():
        yield None
        return
    from testcontainers.nats import NatsContainer  # type: ignore[import-untyped]

    with NatsContainer().with_command("-js") as container:
        yield container.nats_uri()
