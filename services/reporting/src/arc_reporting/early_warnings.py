"""Evaluating early warnings on a schedule and recording each change for publication.

Warnings are evaluated only once the read model has caught up with every stream it reads
(a read model still replaying would raise warnings that the rest of the history clears)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from nats.js import JetStreamContext

from arc_contracts import stream_name
from arc_platform.bus import last_sequence
from arc_platform.partitions import partition_filter, partition_position_key
from arc_platform.runner import Loop
from arc_reporting.domain.asof import standing_at
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.views.common import Config
from arc_reporting.views.warnings import evaluate_all
from arc_reporting.warning_store import WarningStore

log = logging.getLogger(__name__)


def evaluate_and_record(
    store: WarningStore, model: ReportingReadModel, config: Config, now: datetime
) -> int:
    """Evaluate every enrolled student's warnings at ``now``; record what changed."""
    catalog = model.catalog()
    found = evaluate_all(model, config, catalog, list(catalog.sections.values()), now)

    def standing_of(student_id: str, outcome_id: str):  # type: ignore[no-untyped-def]
        return standing_at(model.changes_of([student_id], [outcome_id]), None)

    return store.record(found, config.rule, now, standing_of)


async def caught_up(js: JetStreamContext, model: ReportingReadModel, partitions: int) -> bool:
    positions = model.view.positions()
    if positions.get(stream_name("catalog"), 0) < await last_sequence(js, "catalog"):
        return False
    for context in ("evidence", "mastery"):
        for partition in range(partitions):
            end = await last_sequence(js, context, partition_filter(context, partition))
            key = partition_position_key(stream_name(context), partition)
            if positions.get(key, 0) < end:
                return False
    return True


def warning_loop(
    js: JetStreamContext,
    store: WarningStore,
    model: ReportingReadModel,
    config: Config,
    partitions: int,
    every_seconds: float,
) -> Loop:
    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                if await caught_up(js, model, partitions):
                    now = datetime.now(UTC)
                    changed = await asyncio.to_thread(
                        evaluate_and_record, store, model, config, now
                    )
                    if changed:
                        log.info("recorded %s warning changes", changed)
                else:
                    log.info("read model still catching up: warnings wait")
            except Exception:
                log.exception("early-warning evaluation failed; trying again later")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_seconds)

    return run
