"""HTTP/JSON adapter of mastery: standings, explanations (now, as known at, as assessed by),
roll-ups, and the access log for auditors. OpenAPI at /docs; refusals name the field at fault
in every service's shape (``arc_platform.http_errors``). Every route needs a bearer token
and is checked against ``ACCESS_RULES`` (``arc_platform.auth.policy``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import FastAPI, Query, Request

from arc_mastery.application import (
    MasteryApplication,
    UnknownScope,
    course_rollup,
    parent_rollup,
)
from arc_mastery.rollups import RollUp
from arc_mastery.standing import Explanation, Standing
from arc_platform.auth import PUBLIC, Access, AccessEntry, Audit, HttpRule, ReadStudent
from arc_platform.http_errors import Refused, documented_errors, install_error_handlers
from arc_platform.limits import Limits, limit_request_bodies

STUDENT = "/api/v1/students/{student_id}"


def _student(request: Request) -> ReadStudent:
    return ReadStudent(request.path_params["student_id"])


ACCESS_RULES: dict[str, HttpRule] = {
    "GET /healthz": PUBLIC,
    f"GET {STUDENT}/outcomes/{{outcome_id}}/explanation": _student,
    f"GET {STUDENT}/courses/{{course_id}}": _student,
    f"GET {STUDENT}/outcomes/{{outcome_id}}/children": _student,
    "GET /api/v1/audit/access-log": lambda _request: Audit(),
}


def standing_json(standing: Standing) -> dict[str, Any]:
    return {
        "value": standing.value,
        "level": standing.level.value if standing.level else None,
        "level_label": standing.level.label if standing.level else None,
        "status": standing.status,
        "evidence_count": standing.evidence_count,
    }


def explanation_json(explanation: Explanation) -> dict[str, Any]:
    return {
        "standing": standing_json(explanation.standing),
        "summary": explanation.standing.explanation,
        "method": explanation.method,
        "params": explanation.params,
        "policy_id": explanation.policy_id,
        "policy_revision": explanation.policy_revision,
        "counted": [
            {
                "attempt_id": c.evidence.attempt_id,
                "score": c.evidence.score,
                "assessed_at": c.evidence.assessed_at,
                "recorded_at": c.evidence.recorded_at,
                "contribution": c.contribution,
            }
            for c in explanation.counted
        ],
        "excluded": [
            {
                "attempt_id": e.evidence.attempt_id,
                "reason": e.reason,
                "assessed_at": e.evidence.assessed_at,
            }
            for e in explanation.excluded
        ],
    }


def rollup_json(rollup: RollUp) -> dict[str, Any]:
    return {
        "rule": rollup.rule,
        "value": rollup.value,
        "mastered": rollup.mastered,
        "counted": rollup.counted,
        "of": rollup.of,
        "explanation": rollup.explanation,
    }


def access_entry_json(entry: AccessEntry) -> dict[str, Any]:
    return {
        "at": entry.at,
        "subject": entry.subject,
        "roles": entry.roles.split(",") if entry.roles else [],
        "client_id": entry.client_id,
        "client_address": entry.client_address,
        "transport": entry.transport,
        "endpoint": entry.endpoint,
        "action": entry.action,
        "student_id": entry.student_id,
        "allowed": entry.allowed,
        "reason": entry.reason,
    }


def create_app(app: MasteryApplication, access: Access, limits: Limits | None = None) -> FastAPI:
    api = FastAPI(
        title="Mastery Arc mastery",
        version="1",
        dependencies=[access.http(ACCESS_RULES)],
        responses=documented_errors(401, 403, 404, 413, 422, 503),
    )
    install_error_handlers(api)
    limit_request_bodies(api, limits or Limits())

    @api.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/api/v1/students/{student_id}/outcomes/{outcome_id}/explanation")
    def explanation(
        student_id: str,
        outcome_id: str,
        as_known_at: datetime | None = Query(None, description="Evidence recorded by then."),
        as_assessed_by: datetime | None = Query(None, description="Evidence assessed by then."),
    ) -> dict[str, Any]:
        """Why the student stands where they do on the outcome."""
        for name, value in (("as_known_at", as_known_at), ("as_assessed_by", as_assessed_by)):
            if value is not None and value.tzinfo is None:
                raise Refused(422, [(name, "give a time zone (e.g. 2026-10-02T00:00Z)")])
        found = app.explanation(
            student_id, outcome_id, as_known_at=as_known_at, as_assessed_by=as_assessed_by
        )
        if found is None:
            raise Refused(404, [("outcome_id", "no evidence for this student on this outcome")])
        return {"student_id": student_id, "outcome_id": outcome_id, **explanation_json(found)}

    @api.get("/api/v1/students/{student_id}/courses/{course_id}")
    def course(student_id: str, course_id: str) -> dict[str, Any]:
        try:
            return rollup_json(course_rollup(app, student_id, course_id))
        except UnknownScope as exc:
            raise Refused(404, [(exc.field, exc.description)]) from exc

    @api.get("/api/v1/students/{student_id}/outcomes/{outcome_id}/children")
    def parent(student_id: str, outcome_id: str) -> dict[str, Any]:
        try:
            return rollup_json(parent_rollup(app, student_id, outcome_id))
        except UnknownScope as exc:
            raise Refused(404, [(exc.field, exc.description)]) from exc

    @api.get("/api/v1/audit/access-log")
    def access_log(
        student_id: str | None = Query(None, description="Only decisions about this student."),
        subject: str | None = Query(None, description="Only requests by this person."),
        since: datetime | None = Query(None, description="Only from this time (with zone)."),
        limit: int = Query(100, ge=1, le=1000),
    ) -> dict[str, Any]:
        """Who asked for which student's records, when, through which client, and the answer
        (auditors and network administrators); newest first."""
        if since is not None and since.tzinfo is None:
            raise Refused(422, [("since", "give a time zone (e.g. 2026-10-02T00:00Z)")])
        found = access.log.entries(student_id=student_id, subject=subject, since=since, limit=limit)
        return {"entries": [access_entry_json(e) for e in found]}

    return api
