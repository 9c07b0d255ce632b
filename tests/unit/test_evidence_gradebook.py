"""A teacher uploads a gradebook export: a dry run says what would be recorded and points at
every cell at fault; the real upload records every line or none."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from arc_evidence.application import EvidenceApplication
from arc_evidence.gradebook import ImportOptions, parse_gradebook
from arc_evidence.imports import import_gradebook
from arc_evidence.rules import Rejected
from tests.support.evidence import PERCENT, FakeCatalog

NOW = datetime(2026, 10, 2, 9, 0, tzinfo=UTC)
OPTIONS = ImportOptions(
    recorded_by="t-ada", assessed_at=datetime(2026, 9, 30, tzinfo=UTC), assessment_ref="quiz-3"
)
WIDE = """student_id,MATH.RP.1,math.pct,comment
stu-1,3,87.5,well done
stu-2,EX,M,
stu-3,,,
"""


@pytest.fixture
def catalog() -> FakeCatalog:
    catalog = FakeCatalog()
    catalog.define("math.rp.1")
    catalog.define("math.pct", PERCENT)
    return catalog


@pytest.fixture
def app(catalog: FakeCatalog) -> EvidenceApplication:
    return EvidenceApplication(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"}, catalog=catalog, clock=lambda: NOW
    )


def test_a_wide_export_has_a_column_per_outcome_by_id_or_code(catalog: FakeCatalog) -> None:
    parsed = parse_gradebook(WIDE, OPTIONS, catalog)
    assert parsed.problems == [] and parsed.layout == "wide" and parsed.data_lines == 3
    assert parsed.lines == [2, 3]  # stu-3 has no scores: nothing to record
    first, second = parsed.drafts
    assert [(e.outcome_id, e.score, e.status) for e in first.entries] == [
        ("math.rp.1", Decimal(3), "scored"),
        ("math.pct", Decimal("87.5"), "scored"),
    ]
    assert first.comment == "well done" and first.assessment_ref == "quiz-3"
    assert [(e.status, e.score) for e in second.entries] == [("excused", None), ("missing", None)]
    assert first.source == "csv" and first.source_ref == parsed.source_ref


def test_a_long_export_has_a_line_per_student_and_outcome(catalog: FakeCatalog) -> None:
    text = (
        "Student ID;Outcome;Score;Status;Date\n"
        "stu-1;math.pct;87,5;;2026-09-14\n"
        "stu-1;MATH.RP.1;;excused;2026-09-14T10:30\n"
    )
    options = ImportOptions("t-ada", timezone=ZoneInfo("Europe/Paris"))
    parsed = parse_gradebook(text, options, catalog)
    assert parsed.problems == [] and parsed.layout == "long"
    first, second = parsed.drafts
    assert first.entries[0].score == Decimal("87.5")
    assert first.assessed_at == datetime(2026, 9, 14, tzinfo=ZoneInfo("Europe/Paris"))
    assert second.entries[0].status == "excused" and second.entries[0].outcome_id == "math.rp.1"


def test_problems_in_the_file_itself_are_located_by_line_and_column(
    catalog: FakeCatalog,
) -> None:
    header = parse_gradebook("name,math.rp.1,unknown.9\nstu-1,3,4\n", OPTIONS, catalog)
    assert [(p.line, p.column) for p in header.problems] == [
        (1, "name"),
        (1, "unknown.9"),
        (1, "student_id"),
    ]
    cells = parse_gradebook(
        "student_id,math.rp.1,assessed_at\nstu-1,three,2026-13-01\nstu-2,,\n", OPTIONS, catalog
    )
    assert [(p.line, p.column) for p in cells.problems] == [(2, "math.rp.1"), (2, "assessed_at")]
    dates = parse_gradebook("student_id,math.rp.1,date\nstu-1,3,14/09/2026\n", OPTIONS, catalog)
    assert [(p.line, p.column) for p in dates.problems] == [(2, "assessed_at")]


def test_a_dry_run_reports_what_would_be_recorded_and_records_nothing(
    app: EvidenceApplication,
) -> None:
    report = import_gradebook(app, WIDE, OPTIONS, dry_run=True)
    assert report.errors == [] and not report.recorded
    assert (report.lines, report.students, report.attempts) == (3, 2, 4)
    assert (report.excused, report.missing) == (1, 1)
    assert report.outcomes == ["math.pct", "math.rp.1"]
    assert app.recorder.max_notification_id() is None


def test_a_dry_run_points_at_every_cell_the_rules_refuse(app: EvidenceApplication) -> None:
    text = "student_id,math.rp.1,math.pct\nstu-1,5,87.5\n,3,100.25\nstu-2,3,50\n"
    report = import_gradebook(app, text, OPTIONS, dry_run=True)
    assert [(e.line, e.column, e.description) for e in report.errors] == [
        (2, "math.rp.1", "5 is not on the scale of 'math.rp.1' (1, 2, 3, 4)"),
        (3, "math.pct", "100.25 is not on the scale of 'math.pct' 0 to 100 in steps of 0.5"),
        (3, "student_id", "must not be empty"),
    ]


def test_an_upload_records_every_line_or_none(app: EvidenceApplication) -> None:
    bad = import_gradebook(app, WIDE + "stu-4,9,\n", OPTIONS, dry_run=False)
    assert not bad.recorded and [(e.line, e.column) for e in bad.errors] == [(5, "MATH.RP.1")]
    assert app.recorder.max_notification_id() is None
    good = import_gradebook(app, WIDE, OPTIONS, dry_run=False, idempotency_key="upload-1")
    assert good.recorded and len(good.attempt_ids) == 4 and good.position > 0
    [first, *_] = app.student_history("stu-1")
    assert first.attempt.source == "csv" and first.attempt.source_ref == good.source_ref
    again = import_gradebook(app, WIDE, OPTIONS, dry_run=False, idempotency_key="upload-1")
    assert again.replayed and again.attempt_ids == good.attempt_ids
    with pytest.raises(Rejected):
        import_gradebook(
            app, WIDE.replace("87.5", "90"), OPTIONS, dry_run=False, idempotency_key="upload-1"
        )


def test_an_empty_file_is_reported() -> None:
    parsed = parse_gradebook("\ufeff\n\n", OPTIONS, FakeCatalog())
    assert [p.description for p in parsed.problems] == ["the file is empty"]
