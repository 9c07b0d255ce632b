"""An integrator reads mastery warnings off the bus: one subject, one partition per student,
CloudEvents headers, and the contract's fields intact."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from arc_contracts import Envelope, MasteryWarningV1, decode, encode
from arc_contracts.base import partition_of
from arc_contracts.registry import ALL_EVENTS, CONTEXTS


def test_the_warning_is_published_per_student_partition_and_decodes_back() -> None:
    warning = MasteryWarningV1(
        warning_id="w-1",
        state="raised",
        student_id="s-maya",
        outcome_id="ratios",
        course_ids=("math-6",),
        reasons=("stalled", "no_recent_evidence"),
        detail="3 attempts since the level last rose, still Approaching",
        status="approaching",
        value=Decimal("2.00"),
        level_label="Approaching",
        rule={"stall_attempts": "3"},
        evaluated_at=datetime(2026, 10, 2, tzinfo=UTC),
    )
    assert MasteryWarningV1 in ALL_EVENTS and "reporting" in CONTEXTS
    assert MasteryWarningV1.subject() == "arc.reporting.v1.mastery_warning"
    envelope = Envelope("id-1", "/arc/reporting", MasteryWarningV1.event_type(), datetime.now(UTC))
    subject, body, headers = encode(warning, envelope, partitions=4)
    assert subject == f"arc.reporting.v1.mastery_warning.p{partition_of('s-maya', 4)}"
    assert headers["ce-type"] == "org.masteryarc.reporting.mastery_warning.v1"
    assert decode(headers, body) == (envelope, warning)
