"""HTTP/JSON adapter of reporting (the web UI grows from here)."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import FastAPI

from arc_reporting.read_model import ReportingReadModel


def create_app(model: ReportingReadModel) -> FastAPI:
    app = FastAPI(title="Mastery Arc reporting", version="1")

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/students/{student_id}/outcomes/{outcome_id}")
    def student_outcome(student_id: str, outcome_id: str) -> dict[str, Any]:
        """Where the student is on the outcome, and every attempt and level change so far."""
        return dataclasses.asdict(model.student_outcome(student_id, outcome_id))

    return app
