"""Import a gradebook export (CSV): a dry run reports what would be recorded and every line at
fault; a real run records every line or none, as one batch."""

from __future__ import annotations

from dataclasses import dataclass, field

from arc_evidence.application import EvidenceApplication
from arc_evidence.gradebook import CsvProblem, ImportOptions, ParsedGradebook, parse_gradebook
from arc_evidence.lookups import MemoCatalog
from arc_evidence.rules import Rejected


@dataclass(frozen=True)
class ImportReport:
    dry_run: bool
    recorded: bool
    layout: str
    source_ref: str  # content-derived id of the file, stored with each attempt
    lines: int  # data lines read (blank lines aside)
    students: int
    attempts: int
    excused: int
    missing: int
    outcomes: list[str]
    errors: list[CsvProblem] = field(default_factory=list)
    attempt_ids: list[str] = field(default_factory=list)
    position: int = 0
    replayed: bool = False


def import_gradebook(
    app: EvidenceApplication,
    text: str,
    options: ImportOptions,
    *,
    dry_run: bool,
    idempotency_key: str | None = None,
    traceparent: str = "",
    section_id: str | None = None,
) -> ImportReport:
    """``section_id``: every student must be on that section's roster (as for a batch)."""
    parsed = parse_gradebook(text, options, MemoCatalog(app.catalog))
    if parsed.problems:
        return _report(parsed, dry_run, errors=parsed.problems)
    try:
        written = app.record_batch(
            parsed.drafts,
            section_id=section_id,
            idempotency_key=idempotency_key,
            traceparent=traceparent,
            dry_run=dry_run,
        )
    except Rejected as rejected:
        if rejected.kind == "conflict":
            raise
        return _report(parsed, dry_run, errors=[parsed.locate(p) for p in rejected.problems])
    return _report(
        parsed,
        dry_run,
        recorded=not dry_run,
        attempt_ids=[a for row in written.attempt_ids for a in row],
        position=written.position,
        replayed=written.replayed,
    )


def _report(
    parsed: ParsedGradebook,
    dry_run: bool,
    *,
    recorded: bool = False,
    errors: list[CsvProblem] | None = None,
    attempt_ids: list[str] | None = None,
    position: int = 0,
    replayed: bool = False,
) -> ImportReport:
    entries = [entry for draft in parsed.drafts for entry in draft.entries]
    return ImportReport(
        dry_run=dry_run,
        recorded=recorded,
        layout=parsed.layout,
        source_ref=parsed.source_ref,
        lines=parsed.data_lines,
        students=len({draft.student_id.strip() for draft in parsed.drafts}),
        attempts=len(entries),
        excused=sum(1 for e in entries if e.status == "excused"),
        missing=sum(1 for e in entries if e.status == "missing"),
        outcomes=sorted({e.outcome_id for e in entries}),
        errors=sorted(errors or [], key=lambda p: (p.line or 0, p.column or "")),
        attempt_ids=attempt_ids or [],
        position=position,
        replayed=replayed,
    )
