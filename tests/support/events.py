"""Contract events for tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from arc_contracts import MasteryCauseV1, MasteryChangedV1, MasteryValueV1


def mastery_changed(
    student_id: str = "s", value: int = 3, method: str = "most_recent"
) -> MasteryChangedV1:
    return MasteryChangedV1(
        student_id=student_id,
        outcome_id="o",
        before=MasteryValueV1(value=None, level=None, status="no_evidence"),
        after=MasteryValueV1(
            value=Decimal(value),
            level=Decimal(value),
            level_label=f"L{value}",
            status="mastered" if value >= 3 else "not_yet",
            evidence_count=1,
        ),
        method=method,
        cause=MasteryCauseV1(kind="evidence", event_id="e-1", attempt_id="a"),
        changed_at=datetime(2026, 10, 2, tzinfo=UTC),
    )
