"""Composition root of the mastery service.

arc-mastery serve                      the projection, its APIs and its relay
arc-mastery relay                      only the outbox relay
arc-mastery rebuild [--into TARGET]    replay the full history into a fresh store, then
                                       compare it with the live one (exit 1 on a difference)
arc-mastery replay STUDENT [OUTCOME]   a student's history, step by step
arc-mastery access-log [--student S]   who read which student's records (for auditors)

Every gRPC method and HTTP route needs a bearer token and is checked by the access policy
(``arc_platform.auth``); see ACCESS_RULES in grpc_api.py and http_api.py.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from arc.mastery.v1 import mastery_pb2_grpc
from arc_contracts import stream_name
from arc_mastery import published
from arc_mastery.application import MasteryApplication
from arc_mastery.audit import compare, replay
from arc_mastery.grpc_api import ACCESS_RULES, MasteryServicer
from arc_mastery.http_api import create_app
from arc_platform import heap
from arc_platform.auth import access_for
from arc_platform.auth.access_log import AccessLog
from arc_platform.bus import last_sequence
from arc_platform.cli import make_relay, run_cli
from arc_platform.consumer import TrackedConsumer
from arc_platform.http import http_loop
from arc_platform.partitions import partition_loops, partition_position_key, together
from arc_platform.replay_stats import ReplayStats
from arc_platform.runner import Loop, Runtime, Wiring
from arc_platform.settings import ServiceSettings
from arc_platform.store import open_application
from arc_platform.views import create_engine

CONTEXT = "mastery"
log = logging.getLogger(__name__)


class MasterySettings(ServiceSettings):
    service_name: str = "mastery"
    grpc_port: int = 50053
    http_port: int = 8083


def open_mastery(settings: ServiceSettings, fresh: bool = False) -> MasteryApplication:
    """``fresh``: a new store only this process writes to (a rebuild)."""
    return open_application(
        MasteryApplication, settings, partitions=settings.partitions, fresh=fresh
    )


def partition_consumers(
    runtime: Runtime, app: MasteryApplication, partition: int
) -> list[TrackedConsumer]:
    """One partition: its evidence, and its own copy of the catalog."""
    apply = functools.partial(app.apply_batch, partition)
    catalog_key = partition_position_key(stream_name("catalog"), partition)
    return [
        TrackedConsumer(runtime.js, "catalog", app.position, apply, position_key=catalog_key),
        TrackedConsumer(runtime.js, "evidence", app.position, apply, partition=partition),
    ]


def taking_over(app: MasteryApplication, partition: int, consumers: list[TrackedConsumer]) -> Loop:
    """The partition's consumers, each time this replica takes the partition (again)."""
    run_consumers = together([c.run for c in consumers])

    async def run(stop: asyncio.Event) -> None:
        app.taking_over(partition)
        await run_consumers(stop)

    return run


def consumers(runtime: Runtime, app: MasteryApplication) -> list[TrackedConsumer]:
    return [
        consumer
        for partition in range(app.partitions)
        for consumer in partition_consumers(runtime, app, partition)
    ]


async def serve(runtime: Runtime) -> Wiring:
    settings = runtime.settings
    app = open_mastery(settings)
    relay = make_relay(runtime, app, published.translate, CONTEXT)
    app.on_recorded = relay.wake
    servicer = MasteryServicer(app)
    access = access_for(runtime)
    loops = partition_loops(
        runtime.js,
        "mastery",
        settings.partitions,
        settings.pinned_partitions(),
        lambda partition: [
            taking_over(app, partition, partition_consumers(runtime, app, partition))
        ],
    )
    loops.append(http_loop(create_app(app, access), settings.http_host, settings.http_port))
    loops.extend(access.loops)
    if settings.relay_enabled:
        loops.append(relay.run)
    return Wiring(
        servicers=[
            lambda server: mastery_pb2_grpc.add_MasteryServiceServicer_to_server(servicer, server)
        ],
        service_names=["arc.mastery.v1.MasteryService"],
        loops=loops,
        on_stop=[app.close],
        interceptors=[access.grpc(ACCESS_RULES)],
    )


async def relay_only(runtime: Runtime) -> Wiring:
    app = open_mastery(runtime.settings)
    relay = make_relay(runtime, app, published.translate, CONTEXT)
    return Wiring(servicers=[], service_names=[], loops=[relay.run], on_stop=[app.close])


def rebuild_target(settings: ServiceSettings, into: str | None) -> ServiceSettings:
    """A fresh store beside the live one: a folder (SQLite) or a schema (PostgreSQL)."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    if settings.uses_postgres:
        return settings.model_copy(
            update={"database_schema": into or f"{settings.db_schema}_rebuild_{stamp}"}
        )
    folder = Path(into) if into else settings.data_dir / f"rebuild-{stamp}"
    return settings.model_copy(update={"data_dir": folder})


async def rebuild(runtime: Runtime) -> Wiring:
    """Replay every consumed stream up to its current end into a fresh store (nothing is
    published), then compare with the live store and report any difference."""
    parser = argparse.ArgumentParser(prog="arc-mastery rebuild")
    parser.add_argument("--into", help="fresh SQLite folder or PostgreSQL schema")
    parser.add_argument("--no-compare", action="store_true")
    parser.add_argument("--stats", help="write replay time and memory to this JSON file")
    options = parser.parse_args(runtime.args)
    target = rebuild_target(runtime.settings, options.into)
    fresh = open_mastery(target, fresh=True)
    every_partition = consumers(runtime, fresh)
    targets = {
        c.position_key: await last_sequence(runtime.js, c.context, c.filter_subject)
        for c in every_partition
    }
    console = Console(stderr=True)

    async def replay_then_compare(stop: asyncio.Event) -> None:
        stats = ReplayStats.start()
        tasks = [asyncio.create_task(c.run(stop)) for c in every_partition]
        columns = (
            *Progress.get_default_columns()[:1],
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            bar = progress.add_task("rebuilding mastery", total=sum(targets.values()))
            while True:
                reached = {key: min(fresh.position(key), end) for key, end in targets.items()}
                progress.update(bar, completed=sum(reached.values()))
                if reached == targets:
                    break
                await asyncio.sleep(0.2)
        stats.finish()
        applied = sum(c.applied_count for c in every_partition)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        heap.release_after_replay()
        stored = await asyncio.to_thread(fresh.recorder.max_notification_id)
        stats.write(options.stats, applied, stored or 0)
        if not options.no_compare:
            runtime.exit_code = await asyncio.to_thread(report_differences, runtime, fresh, console)
        runtime.stop.set()

    return Wiring(
        servicers=[], service_names=[], loops=[replay_then_compare], on_stop=[fresh.close]
    )


def report_differences(runtime: Runtime, fresh: MasteryApplication, console: Console) -> int:
    live = open_mastery(runtime.settings)
    try:
        differences = compare(live.all_states(), fresh.all_states())
    finally:
        live.close()
    if not differences:
        console.print("rebuild matches the live projection: no differences")
        return 0
    table = Table("student", "outcome", "live", "rebuilt", title="differences")
    for d in differences:
        table.add_row(d.student_id, d.outcome_id, str(d.live), str(d.rebuilt))
    console.print(table)
    return 1


def print_replay(student_id: str, outcome_id: str | None) -> int:
    """One line per step (plain text, so that an auditor can grep and diff it)."""
    settings = MasterySettings()
    app = open_mastery(settings)
    steps = list(replay(app, student_id, outcome_id))
    app.close()
    if not steps:
        print(f"no mastery history for {student_id}")
        return 1
    print(f"history of {student_id}: when | outcome | event | standing after")
    for step in steps:
        print(f"{step.when} | {step.outcome_id} | {step.what} | {step.value_after}")
    return 0


def print_access_log(student_id: str | None, subject: str | None, limit: int) -> int:
    log = AccessLog(create_engine(MasterySettings()))
    entries = log.entries(student_id=student_id, subject=subject, limit=limit)
    table = Table("when", "who", "roles", "client", "endpoint", "student", "answer", title="access")
    for e in entries:
        client = " ".join(part for part in (e.client_id, e.client_address) if part)
        answer = "allowed" if e.allowed else "DENIED"
        table.add_row(
            f"{e.at:%Y-%m-%d %H:%M:%S}",
            e.subject,
            e.roles,
            client,
            e.endpoint,
            e.student_id or "",
            answer,
        )
    Console().print(table if entries else "no access recorded")
    return 0


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "access-log":
        parser = argparse.ArgumentParser(prog="arc-mastery access-log")
        parser.add_argument("--student", help="only decisions about this student")
        parser.add_argument("--subject", help="only requests by this person")
        parser.add_argument("--limit", type=int, default=100)
        options = parser.parse_args(sys.argv[2:])
        sys.exit(print_access_log(options.student, options.subject, options.limit))
    if len(sys.argv) > 1 and sys.argv[1] == "replay":
        parser = argparse.ArgumentParser(prog="arc-mastery replay")
        parser.add_argument("student_id")
        parser.add_argument("outcome_id", nargs="?")
        options = parser.parse_args(sys.argv[2:])
        sys.exit(print_replay(options.student_id, options.outcome_id))
    run_cli(MasterySettings(), {"serve": serve, "relay": relay_only, "rebuild": rebuild})


if __name__ == "__main__":
    main()
