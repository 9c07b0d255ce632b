"""``make bench``: raw limits, ingest, end-to-end latency, rebuild and a scale curve, on SQLite
and on PostgreSQL, printed as ratios to the raw figures measured in the same run.

Environment: BENCH_SCALES (attempts, default "10000,100000"; the full curve is
"10000,100000,1000000"), BENCH_SECONDS (steady-load run, default 60; 300 for the 5-minute
check), BENCH_BACKENDS ("sqlite,postgres"), BENCH_POSTGRES_URL, BENCH_OUT (bench-results).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from arc_platform.devstack import NatsServer
from bench import raw, system
from bench.workload import Network, generate

console = Console()
#: What each projection replays in a rebuild.
REBUILDS = {"mastery": ["evidence", "catalog"], "reporting": ["evidence", "catalog", "mastery"]}
OUT = Path(os.environ.get("BENCH_OUT", "bench-results"))
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def backend_url(backend: str) -> Iterator[str | None]:
    """None for SQLite; a fresh PostgreSQL database, dropped afterwards."""
    if backend == "sqlite":
        yield None
        return
    name = f"arc_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{POSTGRES.rsplit('/', 1)[0]}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def raw_limits(root: Path, database_url: str | None) -> dict[str, float]:
    server = NatsServer(root / "raw-nats").start()
    try:
        publish = await raw.jetstream_publish_rate(server.url)
        read = await raw.jetstream_read_rate(server.url)
    finally:
        server.stop()
    store = await asyncio.to_thread(raw.store_rates, root / "raw-store", database_url)
    return {"jetstream_publish": publish, "jetstream_read": read, **asdict(store)}


async def one_scale(
    root: Path, database_url: str | None, attempts: int, seconds: float, with_latency: bool
) -> dict[str, Any]:
    network = generate(attempts)
    stack = system.Stack(root, database_url).start()
    try:
        await system.define_outcomes(stack, network)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(
                f"ingesting {network.attempts} attempts", total=network.attempts
            )
            batched = await system.ingest_batched(
                stack, network, progress=lambda n: progress.advance(task, n)
            )
        voided = await system.void_some(stack, batched.accepted, network.void_fraction)
        settle = await system.caught_up(stack)
        result: dict[str, Any] = {
            "attempts": batched.attempts,
            "students": len(network.students),
            "pairs": network.pairs,
            "voided": voided,
            "ingest_batched_per_s": batched.rate,
            "mastery_settle_s_after_ingest": settle,
        }
        # Rebuilt before anything else is recorded, so that every scale replays a history of
        # the same shape (7.5 attempts a pair) and the scales' memory can be compared.
        for service, streams in REBUILDS.items():
            into = f"bench_rebuild_{service}" if database_url else str(root / f"rebuild-{service}")
            rebuilt = await system.rebuild(stack, service, into, streams)
            result[f"rebuild_{service}"] = {**asdict(rebuilt), "events_per_s": rebuilt.rate}
        mastery = result["rebuild_mastery"]
        # Kept after the replay (the peak also holds messages in flight), per pair.
        kept = max(0.0, mastery["rss_after_mb"] - mastery["rss_before_mb"])
        result["pairs_in_projection"] = network.pairs
        result["projection_growth_mb"] = kept
        result["projection_bytes_per_pair"] = kept * 2**20 / network.pairs
        if with_latency:
            single = await system.ingest_single(stack, network, min(3000, max(500, attempts // 20)))
            result["ingest_single_per_s"] = single.rate
            await system.caught_up(stack)
            latency = await system.end_to_end(stack, network, single.rate * 0.5, seconds)
            result["end_to_end"] = asdict(latency)
            result["evidence_alone"] = await evidence_alone(stack, network, attempts)
        return result
    finally:
        stack.stop()


async def evidence_alone(stack: system.Stack, network: Network, attempts: int) -> dict[str, float]:
    """Ingest with mastery and reporting stopped: what the evidence service itself accepts
    (its relay still publishes everything), without the projections' share of the 2 cores."""
    for name in ("mastery", "reporting"):
        stack.processes[name].stop()
    fresh = generate(min(attempts, 10_000), seed=7, prefix="alone")
    fresh = Network(fresh.students, network.outcomes, fresh.assessments, fresh.void_fraction)
    batched = await system.ingest_batched(stack, fresh)
    single = await system.ingest_single(stack, fresh, min(3000, max(500, attempts // 20)))
    return {"ingest_batched_per_s": batched.rate, "ingest_single_per_s": single.rate}


def report_latencies(root: Path, database_url: str | None) -> dict[str, dict[str, float]]:
    """Reporting pages rendered server-side through the real app and access checks, on the
    shaped data of issue 6 (a 35 × 60 heat map; a student with 60 outcomes and 600 attempts):
    p50 and p99 milliseconds over 100 renders each (arc_reporting.bench)."""
    from arc_reporting.bench import render_times

    folder = root / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    times = render_times(folder, runs=100, database_url=database_url, exports=False)
    return {
        name: {q: seconds * 1000 for q, seconds in found.items()} for name, found in times.items()
    }


async def run_backend(backend: str, scales: list[int], seconds: float) -> dict[str, Any]:
    with backend_url(backend) as url, tempfile.TemporaryDirectory(prefix="arc-bench-") as tmp:
        root = Path(tmp)
        console.print(f"[bold]{backend}[/]: raw limits")
        limits = await raw_limits(root, url)
        runs = []
        for index, attempts in enumerate(scales):
            console.print(f"[bold]{backend}[/]: {attempts} attempts")
            scale_root = root / f"scale-{attempts}"
            with backend_url(backend) as scale_url:
                runs.append(
                    await one_scale(
                        scale_root,
                        scale_url if url else None,
                        attempts,
                        seconds,
                        with_latency=index == 0,
                    )
                )
            shutil.rmtree(scale_root, ignore_errors=True)
        reports = await asyncio.to_thread(report_latencies, root, url)
        return {"raw": limits, "scales": runs, "reports_ms": reports}


def ratios(result: dict[str, Any]) -> dict[str, float]:
    limits, first = result["raw"], result["scales"][0]
    found = {
        "batched ingest / raw batched append": first["ingest_batched_per_s"]
        / limits["batched_append"],
        "batched ingest / raw JetStream publish": first["ingest_batched_per_s"]
        / limits["jetstream_publish"],
        "mastery rebuild / raw decoded read": first["rebuild_mastery"]["events_per_s"]
        / limits["decoded_read"],
        "reporting rebuild / raw decoded read": first["rebuild_reporting"]["events_per_s"]
        / limits["decoded_read"],
    }
    if "jetstream_read" in limits:  # runs before it measured the bus's own read rate lack it
        found["raw JetStream read / raw decoded read (bounds every rebuild)"] = (
            limits["jetstream_read"] / limits["decoded_read"]
        )
        for service in ("mastery", "reporting"):
            found[f"{service} rebuild / raw JetStream read"] = (
                first[f"rebuild_{service}"]["events_per_s"] / limits["jetstream_read"]
            )
    ceiling = rebuild_ceiling(limits, first["rebuild_mastery"])
    if ceiling is not None:
        found["mastery rebuild ceiling (store append bound) / raw decoded read"] = (
            ceiling / limits["decoded_read"]
        )
        found["mastery rebuild / its store-bound ceiling"] = (
            first["rebuild_mastery"]["events_per_s"] / ceiling
        )
    if "ingest_single_per_s" in first:
        found["single ingest / raw single append"] = (
            first["ingest_single_per_s"] / limits["single_append"]
        )
    if "evidence_alone" in first:
        alone = first["evidence_alone"]
        found["evidence alone: batched ingest / raw batched append"] = (
            alone["ingest_batched_per_s"] / limits["batched_append"]
        )
        found["evidence alone: single ingest / raw single append"] = (
            alone["ingest_single_per_s"] / limits["single_append"]
        )
    return found


def marginal_bytes_per_pair(scales: list[dict[str, Any]]) -> float | None:
    """What one more pair costs the mastery rebuild process: its growth between the two smallest
    scales over the pairs between them. The growth at one scale also holds what any rebuild
    holds whatever its size (consumers' message windows, worker threads' heaps, page caches),
    which divided by a small scale's pairs would be counted as the pairs' cost."""
    measured = sorted(
        (run["pairs_in_projection"], run["projection_growth_mb"])
        for run in scales
        if "projection_growth_mb" in run
    )
    if len(measured) < 2 or measured[1][0] <= measured[0][0]:
        return None
    (small_pairs, small_mb), (large_pairs, large_mb) = measured[:2]
    return float(large_mb - small_mb) * 2**20 / float(large_pairs - small_pairs)


def rebuild_ceiling(limits: dict[str, float], rebuild: dict[str, Any]) -> float | None:
    """The fastest a rebuild could replay if it did nothing but write what it writes: the
    store's bulk append rate (500 events per commit, measured in the same run) divided by the
    events it stores per event it reads. Mastery keeps each pair's history as events (what
    explains and replays a value as of any date), so its store's append rate bounds it."""
    stored, read = rebuild.get("stored_events"), rebuild["events"]
    if not stored or not read or "bulk_append" not in limits:
        return None
    return float(limits["bulk_append"]) * float(read) / float(stored)


def print_report(results: dict[str, Any]) -> None:
    for backend, result in results["backends"].items():
        table = Table(title=f"Mastery Arc benchmark — {backend}")
        table.add_column("measure")
        table.add_column("value", justify="right")
        table.add_column("target", justify="right")
        for name, value in result["raw"].items():
            table.add_row(f"raw {name} (events/s)", f"{value:,.0f}", "")
        targets = {
            "batched ingest / raw batched append": "≥ 0.50",
            "single ingest / raw single append": "≥ 0.50",
            "evidence alone: batched ingest / raw batched append": "(≥ 0.50)",
            "evidence alone: single ingest / raw single append": "(≥ 0.50)",
            "mastery rebuild / raw decoded read": "≥ 0.50",
            "reporting rebuild / raw decoded read": "≥ 0.50",
            "mastery rebuild ceiling (store append bound) / raw decoded read": "(bounds it)",
            "raw JetStream read / raw decoded read (bounds every rebuild)": "(bounds them)",
        }
        for name, value in ratios(result).items():
            table.add_row(name, f"{value:.2f}", targets.get(name, ""))
        first = result["scales"][0]
        if "end_to_end" in first:
            e2e = first["end_to_end"]
            table.add_row(
                "end-to-end p50 / p95 / p99 (ms) at 50% load",
                f"{e2e['p50_ms']:.1f} / {e2e['p95_ms']:.1f} / {e2e['p99_ms']:.1f}",
                "p99 < 50",
            )
            table.add_row(
                "sustained in / out (per s)",
                f"{e2e['throughput_in']:.0f} / {e2e['throughput_out']:.0f}",
                "equal",
            )
        for page, ms in result.get("reports_ms", {}).items():
            target = "p99 < 50" if page.startswith("heat map") else ""
            table.add_row(
                f"render {page} p50 / p99 (ms)", f"{ms['p50']:.0f} / {ms['p99']:.0f}", target
            )
        for run in result["scales"]:
            table.add_row(
                f"{run['attempts']:,} attempts: ingest batched / rebuild mastery, reporting (/s)",
                f"{run['ingest_batched_per_s']:,.0f} / "
                f"{run['rebuild_mastery']['events_per_s']:,.0f}, "
                f"{run['rebuild_reporting']['events_per_s']:,.0f}",
                "",
            )
            table.add_row(
                f"{run['attempts']:,} attempts: mastery rebuild peak memory (MB)",
                f"{run['rebuild_mastery']['rss_peak_mb']:,.0f}",
                "",
            )
            table.add_row(
                f"{run['attempts']:,} attempts: projection bytes per pair (growth / pairs)",
                f"{run['projection_bytes_per_pair']:,.0f}",
                "< 1024",
            )
        marginal = result.get("marginal_bytes_per_pair")
        if marginal is not None:
            table.add_row(
                "projection bytes per pair, marginal (between scales)", f"{marginal:,.0f}", "< 1024"
            )
        console.print(table)


#: The scale curve's lines: what, named, marker, line style.
CURVES: list[tuple[Callable[[dict[str, Any]], float], str, str, str]] = [
    (lambda run: run["ingest_batched_per_s"], "ingest (batched)", "o", "-"),
    (lambda run: run["rebuild_mastery"]["events_per_s"], "mastery rebuild", "s", "--"),
    (lambda run: run["rebuild_reporting"]["events_per_s"], "reporting rebuild", "^", ":"),
]


def draw(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (curve, backlog) = plt.subplots(1, 2, figsize=(12, 4.5))
    for backend, result in results["backends"].items():
        xs = [run["attempts"] for run in result["scales"]]
        for measure, name, marker, line in CURVES:
            curve.plot(
                xs,
                [measure(run) for run in result["scales"]],
                marker=marker,
                linestyle=line,
                label=f"{backend} {name}",
            )
        first = result["scales"][0]
        if "end_to_end" in first:
            backlog.plot(first["end_to_end"]["backlog_samples"], label=f"{backend}")
    curve.set_xscale("log")
    curve.set_xlabel("attempts in the network")
    curve.set_ylabel("events per second")
    curve.set_title("Scale curve")
    curve.legend()
    backlog.set_xlabel("seconds of steady load")
    backlog.set_ylabel("attempts awaiting MasteryChanged")
    backlog.set_title("Backlog over time (flat = keeps up)")
    backlog.legend()
    figure.tight_layout()
    figure.savefig(path)


def main() -> None:
    scales = [int(s) for s in os.environ.get("BENCH_SCALES", "10000,100000").split(",")]
    seconds = float(os.environ.get("BENCH_SECONDS", "60"))
    backends = os.environ.get("BENCH_BACKENDS", "sqlite,postgres").split(",")
    started = time.time()
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count()},
        "backends": {b: asyncio.run(run_backend(b, scales, seconds)) for b in backends},
    }
    results["seconds"] = time.time() - started
    for result in results["backends"].values():
        result["ratios"] = ratios(result)
        result["marginal_bytes_per_pair"] = marginal_bytes_per_pair(result["scales"])
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (OUT / f"results-{stamp}.json").write_text(json.dumps(results, indent=2, default=str))
    draw(results, OUT / f"results-{stamp}.png")
    print_report(results)
    console.print(
        f"results: {OUT / f'results-{stamp}.json'}, chart: {OUT / f'results-{stamp}.png'}"
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # so that every started process is stopped on the way out


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    main()
