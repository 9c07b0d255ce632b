"""Evidence's local view of the catalog, built only from catalog events."""

from __future__ import annotations

import json
import logging

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from arc_contracts import OutcomeDefinedV1, ProficiencyScaleV1
from arc_evidence.domain import KnownOutcome
from arc_platform.consumer import Delivery
from arc_platform.views import TrackedView

log = logging.getLogger(__name__)

metadata = sa.MetaData()
outcomes = sa.Table(
    "known_outcomes",
    metadata,
    sa.Column("outcome_id", sa.String(200), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("scale", sa.Text, nullable=False),
)


class CatalogView:
    def __init__(self, engine: Engine) -> None:
        self.view = TrackedView(engine, metadata)

    def position(self, stream: str) -> int:
        return self.view.position(stream)

    def apply(self, batch: list[Delivery]) -> None:
        with self.view.advancing(batch[0].stream, batch[-1].sequence) as conn:
            for delivery in batch:
                if isinstance(delivery.event, OutcomeDefinedV1):
                    self._upsert(conn, delivery.event)
                elif delivery.problem:
                    log.error(
                        "skipped malformed catalog message %s: %s",
                        delivery.sequence,
                        delivery.problem,
                    )

    def _upsert(self, conn: sa.Connection, event: OutcomeDefinedV1) -> None:
        row = {"revision": event.revision, "scale": event.scale.model_dump_json()}
        current = conn.execute(
            sa.select(outcomes.c.revision).where(outcomes.c.outcome_id == event.outcome_id)
        ).first()
        if current is None:
            conn.execute(sa.insert(outcomes).values(outcome_id=event.outcome_id, **row))
        elif current[0] < event.revision:
            conn.execute(
                sa.update(outcomes).where(outcomes.c.outcome_id == event.outcome_id).values(**row)
            )

    def find(self, outcome_id: str) -> KnownOutcome | None:
        with self.view.engine.connect() as conn:
            row = conn.execute(
                sa.select(outcomes.c.revision, outcomes.c.scale).where(
                    outcomes.c.outcome_id == outcome_id
                )
            ).first()
        if row is None:
            return None
        scale = ProficiencyScaleV1.model_validate(json.loads(row[1]))
        return KnownOutcome(outcome_id, int(row[0]), scale)
