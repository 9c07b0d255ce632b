"""Server-side render times of the two heaviest pages, for ``make bench`` (bench/) and the
render-speed test: a section heat map of 35 students × 60 outcomes, and a student page with
60 outcomes and 600 attempts (plus that student's 60 outcome charts)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from arc_platform.auth.dev_issuer import DevIssuerServer
from arc_platform.settings import ServiceSettings
from arc_platform.views import create_engine
from arc_reporting.access import local_access
from arc_reporting.http_api import create_app
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.sample import feed_class


def _timed(call: Callable[[], object], runs: int) -> dict[str, float]:
    """Median and 99th-percentile seconds of ``runs`` calls (after one warm-up call)."""
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "p50": statistics.median(times),
        "p99": times[min(len(times) - 1, int(0.99 * len(times)))],
    }


def render_times(
    folder: Path, runs: int = 5, database_url: str | None = None, exports: bool = True
) -> dict[str, dict[str, float]]:
    """Median and p99 render seconds per page, on a read model in ``folder`` (SQLite) or in
    the PostgreSQL database at ``database_url``, its engine made as the service makes it
    (SQLite in WAL mode without a sync per commit; a schema of its own on PostgreSQL)."""
    settings = ServiceSettings(service_name="reporting", data_dir=folder, database_url=database_url)
    model = ReportingReadModel(create_engine(settings))
    made = feed_class(model, students=35, outcomes=60, attempts=20)
    heavy = "stu-heavy"
    feed_class(model, 1, 60, 600, seed=11, student_prefix=heavy, section_id="sec-heavy")
    issuer = DevIssuerServer(folder / "dev-issuer").start()
    access = local_access(model.engine, issuer.url)
    token = issuer.issuer.token("admin")  # access checks included in the times
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(model, access)) as client:

        def get(url: str) -> Callable[[], object]:
            def call() -> object:
                reply = client.get(url, headers=headers)
                assert reply.status_code == 200, (url, reply.status_code)
                return reply

            return call

        found = {
            "heat map 35×60 (page)": _timed(get(f"/sections/{made['section']}"), runs),
            "heat map 35×60 (API)": _timed(
                get(f"/api/v1/sections/{made['section']}/heatmap"), runs
            ),
            "student 60 outcomes, 600 attempts (page)": _timed(get(f"/students/{heavy}-001"), runs),
            "one outcome chart (SVG)": _timed(
                get(f"/students/{heavy}-001/outcomes/math.01/chart.svg"), runs
            ),
        }
        if exports:
            pdf = get(f"/sections/{made['section']}/report-cards.pdf")
            found["report cards, 35 students (PDF)"] = _timed(pdf, runs)
    issuer.stop()
    return found


def main() -> None:
    import tempfile

    from rich.console import Console
    from rich.table import Table

    with tempfile.TemporaryDirectory() as folder:
        results = render_times(Path(folder))
    table = Table("page", "p50 ms", "p99 ms", title="reporting render times (server side)")
    for name, found in results.items():
        table.add_row(name, f"{found['p50'] * 1000:.0f}", f"{found['p99'] * 1000:.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
