"""A throwaway PostgreSQL cluster for fault tests: made with the local binaries (initdb, pg_ctl)
in a fresh directory, listening on 127.0.0.1 on a free port, trust auth, stopped and deleted at
the end. Tests may stop, restart or crash it at will; the shared server on 5432 is never touched.

PostgreSQL refuses to run as root: when we are root, every command runs as the ``postgres`` OS
user, on a data directory it owns (under /tmp, since pytest's own tmp folders are private to
root)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn

import psycopg
import pytest

from arc_platform.devstack import free_port, port_open

ShutdownMode = Literal["smart", "fast", "immediate"]

#: Settings for a small, quick, local cluster. fsync stays on: an immediate shutdown must keep
#: every committed transaction, and that is what the tests check.
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "logging_collector": "off",
}


class NoPostgresBinaries(RuntimeError):
    """initdb/pg_ctl are not installed on this machine."""


def binary_dir() -> Path:
    """Where initdb and pg_ctl live: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(os.path.realpath(on_path)).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise NoPostgresBinaries("pg_ctl not found on PATH nor in /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


def _os_user() -> str | None:
    """The OS user PostgreSQL runs as: ``postgres`` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise NoPostgresBinaries("running as root and there is no 'postgres' OS user") from exc
    return "postgres"


@dataclass
class PgCluster:
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="arc-pg-")))
    port: int = field(default_factory=free_port)
    bin_dir: Path = field(default_factory=binary_dir)
    os_user: str | None = field(default_factory=_os_user)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.os_user is not None:
            # runuser, not subprocess's user=: switching user in the forked child of a process
            # with gRPC threads has crashed the child (SIGSEGV) before it could exec.
            command = ["runuser", "-u", self.os_user, "--", *command]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.root,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({result.returncode}): {result.stderr}{result.stdout}"
            )

    def init(self) -> PgCluster:
        if self.os_user is not None:
            shutil.chown(self.root, self.os_user, self.os_user)
        self._run("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", "postgres", "-N")
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.port}\n")
            conf.writelines(f"{name} = '{value}'\n" for name, value in SETTINGS.items())
        return self

    def start(self) -> PgCluster:
        """Start and wait until it accepts connections."""
        self._run("pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_path), "-w")
        return self

    def stop(self, mode: ShutdownMode = "fast") -> None:
        """``fast``: sessions are cut, then a clean shutdown; ``immediate``: every process quits
        at once, as in a crash (recovery replays the WAL on the next start)."""
        self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", mode, "-w")

    def restart(self, mode: ShutdownMode = "fast") -> None:
        self.stop(mode)
        self.start()

    @property
    def running(self) -> bool:
        return port_open(self.port)

    def accepts_queries(self) -> bool:
        try:
            with psycopg.connect(self.url(), connect_timeout=2) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def destroy(self) -> None:
        """Stop (as a crash: nothing is kept) and delete everything."""
        if (self.data_dir / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster()
    try:
        yield cluster.init().start()
    finally:
        cluster.destroy()


def without_binaries(exc: NoPostgresBinaries) -> NoReturn:
    """Skip loudly where the PostgreSQL binaries are missing, but fail where PostgreSQL is
    required (CI sets REQUIRE_POSTGRES=1: the throwaway-cluster tests must run there)."""
    message = f"no local PostgreSQL binaries for a throwaway cluster: {exc}"
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(f"REQUIRE_POSTGRES=1 but {message}")
    pytest.skip(f"SKIPPING: {message}")
