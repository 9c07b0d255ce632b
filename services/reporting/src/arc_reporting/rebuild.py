"""``arc-reporting rebuild``: replay every stream reporting reads, up to its current end, into
a fresh read model (a folder for SQLite, a schema for PostgreSQL), with a progress bar; then
compare it table by table with the live read model and list any difference (exit 1)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from arc_platform import heap
from arc_platform.bus import last_sequence
from arc_platform.consumer import TrackedConsumer
from arc_platform.erasure import open_personal_data
from arc_platform.replay_stats import ReplayStats
from arc_platform.runner import Runtime, Wiring
from arc_platform.settings import ServiceSettings
from arc_platform.views import create_engine
from arc_reporting.read_model import ReportingReadModel


def rebuild_target(settings: ServiceSettings, into: str | None) -> ServiceSettings:
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    if settings.uses_postgres:
        return settings.model_copy(
            update={"database_schema": into or f"{settings.db_schema}_rebuild_{stamp}"}
        )
    folder = Path(into) if into else settings.data_dir / f"rebuild-{stamp}"
    return settings.model_copy(update={"data_dir": folder})


def every_consumer(runtime: Runtime, model: ReportingReadModel) -> list[TrackedConsumer]:
    js = runtime.js
    found = [TrackedConsumer(js, "catalog", model.position, model.apply)]
    for partition in range(runtime.settings.partitions):
        for context in ("evidence", "mastery"):
            found.append(
                TrackedConsumer(js, context, model.position, model.apply, partition=partition)
            )
    return found


def differences(
    live: dict[str, list[tuple[Any, ...]]], rebuilt: dict[str, list[tuple[Any, ...]]]
) -> list[tuple[str, str, str]]:
    """(table, what, detail) for every row only one side has."""
    found = []
    for table in sorted(set(live) | set(rebuilt)):
        a, b = set(live.get(table, [])), set(rebuilt.get(table, []))
        found += [(table, "only live", repr(row)) for row in sorted(a - b, key=repr)]
        found += [(table, "only rebuilt", repr(row)) for row in sorted(b - a, key=repr)]
    return found


async def rebuild(runtime: Runtime) -> Wiring:
    parser = argparse.ArgumentParser(prog="arc-reporting rebuild")
    parser.add_argument("--into", help="fresh SQLite folder or PostgreSQL schema")
    parser.add_argument("--no-compare", action="store_true")
    parser.add_argument("--stats", help="write replay time and memory to this JSON file")
    options = parser.parse_args(runtime.args)
    target = rebuild_target(runtime.settings, options.into)
    # The same key vault as the live model: the target only moves the read model.
    personal = open_personal_data(runtime.settings.keyvault())
    fresh = ReportingReadModel(create_engine(target), personal, replaying=True)
    consumers = every_consumer(runtime, fresh)
    ends = {
        c.position_key: await last_sequence(runtime.js, c.context, c.filter_subject)
        for c in consumers
    }
    console = Console(stderr=True)

    async def replay_then_compare(stop: asyncio.Event) -> None:
        stats = ReplayStats.start()
        tasks = [asyncio.create_task(c.run(stop)) for c in consumers]
        columns = (
            *Progress.get_default_columns()[:1],
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            bar = progress.add_task("rebuilding reporting", total=sum(ends.values()))
            while True:
                positions = await asyncio.to_thread(fresh.view.positions)
                reached = {k: min(positions.get(k, 0), end) for k, end in ends.items()}
                progress.update(bar, completed=sum(reached.values()))
                if reached == ends:
                    break
                await asyncio.sleep(0.2)
        stats.finish()
        applied = sum(c.applied_count for c in consumers)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        heap.release_after_replay()
        stats.write(options.stats, applied)
        if not options.no_compare:
            runtime.exit_code = await asyncio.to_thread(report, runtime, fresh, console)
        runtime.stop.set()

    return Wiring(servicers=[], service_names=[], loops=[replay_then_compare])


def report(runtime: Runtime, fresh: ReportingReadModel, console: Console) -> int:
    live = ReportingReadModel(create_engine(runtime.settings))
    found = differences(live.content(), fresh.content())
    if not found:
        console.print("rebuild matches the live read model: no differences")
        return 0
    table = Table("table", "side", "row", title=f"{len(found)} differences")
    for row in found[:200]:
        table.add_row(*row)
    console.print(table)
    return 1
