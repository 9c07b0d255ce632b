"""Reporting's settings (``ARC_*`` environment variables)."""

from __future__ import annotations

from pydantic import Field

from arc_platform.settings import ServiceSettings
from arc_reporting.domain.early_warning import WarningRule


class ReportingSettings(ServiceSettings):
    service_name: str = "reporting"
    grpc_port: int = 50054
    http_port: int = 8080
    mastery_target: str | None = Field(
        "127.0.0.1:50053", description="Mastery's gRPC address, for explanations; empty: none."
    )
    evidence_target: str | None = Field(
        "127.0.0.1:50052", description="Evidence's gRPC address, for whole-class entry."
    )
    outcome_label: str = Field(
        "outcome", description="What screens call an outcome, unless the catalog says."
    )
    outcomes_label: str | None = Field(None, description="Plural; default: outcome_label + s.")
    warning_stall_attempts: int = Field(3, ge=1, description="Early warning: stalled after.")
    warning_drop_weeks: int = Field(4, ge=1, description="Early warning: drops this recent.")
    warning_quiet_weeks: int = Field(3, ge=1, description="Early warning: no evidence for.")
    warning_check_seconds: float = Field(
        300.0, gt=0, description="How often warnings are evaluated and published."
    )
    apply_linger_seconds: float = Field(
        0.2,
        ge=0,
        description="After a change arrives, wait up to this long for more and apply them "
        "together: views a moment behind, in fewer and larger transactions (0: one at a time).",
    )
    stuck_min_share: float = Field(0.3, gt=0, le=1, description="Stuck outcome: share stuck.")
    stuck_min_students: int = Field(3, ge=1, description="Stuck outcome: at least this many.")

    def warning_rule(self) -> WarningRule:
        return WarningRule(
            self.warning_stall_attempts, self.warning_drop_weeks, self.warning_quiet_weeks
        )
