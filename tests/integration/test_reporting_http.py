"""Every reporting page and API, through FastAPI's TestClient, against a real read model on
SQLite fed with a school's events: what a student, a family, a teacher and a leader see."""

from __future__ import annotations

import csv
import gc
import io
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pypdf import PdfReader

from arc_platform import heap
from arc_reporting.clients import ClassEntry, EntryResult, Explained
from arc_reporting.http_api import create_app
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.service import Reporting
from arc_reporting.views.common import Config
from tests.support.reporting import SignedIn, Story, day, riverside


class MasteryExplains:
    """Stands in for mastery's Explain (the end-to-end test uses the real service)."""

    async def explain(
        self, student_id: str, outcome_id: str, as_of: datetime | None
    ) -> Explained | None:
        return Explained(
            f"most recent score counts ({student_id}/{outcome_id})",
            "most_recent",
            {},
            "pol",
            1,
            "mastered",
            "3",
            "Meets",
        )


class EvidenceRecords:
    """Records what would go to evidence's RecordBatch (the end-to-end test uses the real one)."""

    def __init__(self) -> None:
        self.entries: list[ClassEntry] = []

    async def record(self, entry: ClassEntry) -> EntryResult:
        self.entries.append(entry)
        return EntryResult(sum(len(r.scores) for r in entry.rows), 1, False)


@pytest.fixture
def story(tmp_path: Path) -> Story:
    model = ReportingReadModel(sa.create_engine(f"sqlite:///{tmp_path / 'views.sqlite'}"))
    story = riverside(model)
    # Maya: ratios 2 → 3 (mastered), fractions 1, a voided 4 on fractions.
    story.record("s-maya", "ratios", 2, day(3))
    story.record("s-maya", "ratios", 3, day(20))
    story.record("s-maya", "fractions", 1, day(21))
    wrong = story.record("s-maya", "fractions", 4, day(22))
    story.void("s-maya", "fractions", wrong, day(23), Decimal(1))
    # Noah: ratios 4, persevere 2. Zoe: nothing yet.
    story.record("s-noah", "ratios", 4, day(10))
    story.record("s-noah", "persevere", 2, day(11))
    return story


@pytest.fixture
def evidence() -> EvidenceRecords:
    return EvidenceRecords()


@pytest.fixture
def signed_in(story: Story, tmp_path: Path) -> Iterator[SignedIn]:
    signed = SignedIn(story, story.model, tmp_path)
    yield signed
    signed.stop()


@pytest.fixture
def client(story: Story, evidence: EvidenceRecords, signed_in: SignedIn) -> Iterator[TestClient]:
    """A network administrator's client (every role is tried in test_auth_reporting_access)."""
    service = Reporting(story.model, Config(), MasteryExplains(), evidence)
    app = create_app(service, signed_in.access)
    with TestClient(app, headers=signed_in.headers("admin")) as client:
        yield client


def test_the_student_sees_each_outcome_of_each_course_with_level_why_and_next(
    client: TestClient,
) -> None:
    data = client.get("/api/v1/students/s-maya").json()
    assert data["name"] == "Maya Garcia"
    [course] = data["courses"]
    assert course["title"] == "Grade 6 Maths" and course["school"] == "Riverside Middle"
    lines = {o["outcome_id"]: o for o in course["outcomes"]}
    assert (lines["ratios"]["status"], lines["ratios"]["level_label"]) == ("mastered", "Meets")
    assert (lines["fractions"]["status"], lines["fractions"]["level_label"]) == (
        "not_yet",
        "Not yet",
    )
    assert lines["fractions"]["attempts"] == 2  # the voided one is still shown
    assert lines["persevere"]["status"] == "no_evidence"
    assert lines["ratios"]["explanation"] == "most recent score counts (s-maya/ratios)"
    assert [o["outcome_id"] for o in data["next_steps"]] == ["fractions", "persevere"]

    page = client.get("/students/s-maya")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Maya Garcia" in page.text and "What is next" in page.text
    assert "Why:</strong> most recent score counts (s-maya/ratios)" in page.text
    assert 'src="/students/s-maya/outcomes/fractions/chart.svg"' in page.text


def test_the_chart_shows_every_attempt_and_marks_the_voided_one(client: TestClient) -> None:
    chart = client.get("/students/s-maya/outcomes/fractions/chart.svg")
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert chart.text.startswith("<svg") and "Attempts that count" in chart.text
    assert "not counted: voided: entered for the wrong student" in chart.text


def test_one_outcome_in_detail_with_every_attempt_and_change(client: TestClient) -> None:
    data = client.get("/api/v1/students/s-maya/outcomes/fractions").json()
    assert [(a["score"], a["counted"]) for a in data["attempts"]] == [(1.0, True), (4.0, False)]
    assert data["attempts"][1]["not_counted"] == "voided: entered for the wrong student"
    assert [c["cause"] for c in data["changes"]] == ["evidence", "evidence", "void"]
    assert (data["outcome_code"], data["level_label"], data["mastered"]) == (
        "NS.1",
        "Not yet",
        False,
    )
    page = client.get("/students/s-maya/outcomes/fractions")
    assert "What counts and why" in page.text and "<svg" in page.text
    assert "voided: entered for the wrong student" in page.text


def test_a_family_sees_only_the_students_linked_to_them_in_plain_language(
    client: TestClient,
) -> None:
    data = client.get("/api/v1/guardians/g-rosa").json()
    assert [c["student_id"] for c in data["children"]] == ["s-maya"]
    page = client.get("/families/g-rosa")
    assert "Maya Garcia" in page.text and "Noah" not in page.text
    assert "Can do this" in page.text and "Not yet: still learning" in page.text
    assert "@media print" in client.get("/static/style.css").text
    missing = client.get("/api/v1/guardians/s-noah")
    assert missing.status_code == 404
    assert missing.json()["violations"] == [
        {"field": "guardian_id", "description": "no guardian 's-noah'"}
    ]


def test_the_teacher_sees_her_sections(client: TestClient) -> None:
    data = client.get("/api/v1/teachers/t-ada").json()
    assert [(s["section_id"], s["students"]) for s in data["sections"]] == [("sec-6a", 3)]
    assert 'href="/sections/sec-6a"' in client.get("/teachers/t-ada").text


def test_the_heat_map_sorts_filters_links_and_lists_missing_evidence(client: TestClient) -> None:
    data = client.get("/api/v1/sections/sec-6a/heatmap").json()["heatmap"]
    assert [r["student_id"] for r in data["rows"]] == ["s-zoe", "s-maya", "s-noah"]
    assert [c["outcome_id"] for c in data["columns"]] == ["ratios", "fractions", "persevere"]
    assert {c["outcome_id"]: c["no_evidence"] for c in data["columns"]} == {
        "ratios": ["s-zoe"],
        "fractions": ["s-zoe", "s-noah"],
        "persevere": ["s-zoe", "s-maya"],
    }
    by_ratios = client.get("/api/v1/sections/sec-6a/heatmap?sort=outcome:ratios&order=desc").json()
    assert [r["student_id"] for r in by_ratios["heatmap"]["rows"]] == ["s-noah", "s-maya", "s-zoe"]
    power = client.get("/api/v1/sections/sec-6a/heatmap?power_only=true&q=noah").json()["heatmap"]
    assert [c["outcome_id"] for c in power["columns"]] == ["ratios", "fractions"]
    assert [r["student_id"] for r in power["rows"]] == ["s-noah"]
    page = client.get("/sections/sec-6a")
    assert 'href="/students/s-maya/outcomes/ratios"' in page.text  # click through to the student
    assert "No evidence yet" in page.text and "Enter evidence for the class" in page.text
    bad = client.get("/api/v1/sections/sec-6a/heatmap?sort=height")
    assert bad.status_code == 422 and bad.json()["violations"][0]["field"] == "sort"
    assert client.get("/sections/sec-6a?sort=height").status_code == 422


def test_whole_class_entry_sends_one_batch_and_bad_input_sends_nothing(
    client: TestClient, evidence: EvidenceRecords
) -> None:
    form = client.get("/sections/sec-6a/evidence?outcome_id=ratios&outcome_id=fractions")
    assert form.status_code == 200
    assert (
        'name="score.s-zoe.fractions"' in form.text and 'name="status.s-noah.ratios"' in form.text
    )
    fields = {
        "recorded_by": "t-ada",
        "assessment_ref": "Unit 2 quiz",
        "assessed_on": "2026-10-01",
        "assessment_kind": "test",
        "outcome_id": ["ratios", "fractions"],
        "idempotency_key": "k-1",
        "score.s-zoe.ratios": "3",
        "score.s-zoe.fractions": "two",
        "status.s-noah.ratios": "excused",
    }
    rejected = client.post("/sections/sec-6a/evidence", data=fields)
    assert rejected.status_code == 422 and "Nothing was recorded" in rejected.text
    assert (
        "score.s-zoe.fractions" in rejected.text
        and "&#39;two&#39; is not a number" in rejected.text
    )
    assert evidence.entries == []
    fields["score.s-zoe.fractions"] = "2"
    done = client.post("/sections/sec-6a/evidence", data=fields, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/sections/sec-6a?recorded=3"
    [entry] = evidence.entries
    assert (entry.section_id, entry.assessment_ref, entry.idempotency_key) == (
        "sec-6a",
        "Unit 2 quiz",
        "k-1",
    )
    rows = {r.student_id: [(c.outcome_id, c.score, c.status) for c in r.scores] for r in entry.rows}
    assert rows == {
        "s-zoe": [("ratios", Decimal(3), "scored"), ("fractions", Decimal(2), "scored")],
        "s-noah": [("ratios", None, "excused")],
    }
    api = client.post(
        "/api/v1/sections/sec-6a/evidence",
        json={
            "recorded_by": "t-ada",
            "assessed_at": "2026-10-02T10:00:00Z",
            "assessment_ref": "Exit ticket",
            "rows": [
                {"student_id": "s-stranger", "scores": [{"outcome_id": "ratios", "score": "3"}]}
            ],
        },
    )
    assert api.status_code == 404 and api.json()["violations"][0]["field"] == "rows[0].student_id"
    assert len(evidence.entries) == 1


def test_leaders_see_the_distribution_over_time_and_stuck_outcomes(
    story: Story, client: TestClient, signed_in: SignedIn
) -> None:
    for student in ("s-noah", "s-zoe"):
        for n in range(4):
            story.record(student, "fractions", 2, day(30 + n))
    data = client.get("/api/v1/distribution?from=2026-09-01&as_of=2026-10-15&interval=week").json()
    assert data["overall"]["counts"] == {
        "no_evidence": 3,
        "not_yet": 1,
        "needs_judgment": 0,
        "approaching": 3,
        "mastered": 2,
    }
    assert [p["at"][:10] for p in data["over_time"]][-2:] == ["2026-10-08", "2026-10-15"]
    assert data["over_time"][0]["distribution"]["counts"]["no_evidence"] == 9
    assert [
        (s["outcome_id"], s["stuck"], s["with_evidence"]) for s in data["stuck"]
    ] == []  # 2 < 3 students
    strict = Reporting(story.model, Config(stuck_min_students=2))
    with TestClient(
        create_app(strict, signed_in.access), headers=signed_in.headers("admin")
    ) as other:
        stuck = other.get("/api/v1/distribution?from=2026-09-01&as_of=2026-10-15").json()["stuck"]
    assert [(s["outcome_id"], s["stuck"], s["with_evidence"]) for s in stuck] == [
        ("fractions", 2, 3)
    ]
    assert [r["title"] for r in data["by_school"]] == ["Riverside Middle"]
    page = client.get("/leaders?school_id=sch-1&from=2026-09-01&as_of=2026-10-15")
    assert page.status_code == 200 and page.text.count("<svg") == 2
    assert client.get("/api/v1/distribution?school_id=nowhere").status_code == 404
    assert (
        client.get("/api/v1/distribution?interval=fortnight").json()["violations"][0]["field"]
        == "interval"
    )


def test_early_warnings_list_who_needs_support_and_why(client: TestClient) -> None:
    data = client.get("/api/v1/warnings?section_id=sec-6a&as_of=2026-11-30").json()
    assert data["rule"] == {"stall_attempts": "3", "drop_weeks": "4", "quiet_weeks": "3"}
    found = {(w["student_id"], w["outcome_id"]): w["reasons"] for w in data["warnings"]}
    assert found == {
        ("s-maya", "fractions"): ["no_recent_evidence"],
        ("s-noah", "fractions"): ["no_recent_evidence"],
        ("s-zoe", "fractions"): ["no_recent_evidence"],
        ("s-zoe", "ratios"): ["no_recent_evidence"],
    }
    assert (
        client.get("/api/v1/warnings?section_id=sec-6a&as_of=2026-09-05").json()["warnings"] == []
    )
    page = client.get("/warnings?school_id=sch-1&as_of=2026-11-30")
    assert "no recent evidence" in page.text and "Zoe Adams" in page.text


def test_the_report_card_converts_by_the_policy_and_exports(client: TestClient) -> None:
    data = client.get("/api/v1/students/s-noah/report-card").json()
    [course] = data["courses"]
    assert (course["grade"]["grade"], course["grade"]["percent"], course["grade"]["value"]) == (
        "A",
        95.0,
        4.0,
    )
    assert [(line["outcome_id"], line["counted"]) for line in course["lines"]] == [
        ("ratios", True),
        ("fractions", True),
        ("persevere", False),
    ]
    page = client.get("/students/s-noah/report-card")
    assert "Grade <strong>A</strong> (95%)" in page.text

    rows = list(csv.DictReader(io.StringIO(client.get("/students/s-maya/report-card.csv").text)))
    assert {(r["outcome_id"], r["status"], r["grade"]) for r in rows} == {
        ("ratios", "mastered", "C"),
        ("fractions", "not_yet", "C"),
        ("persevere", "no_evidence", "C"),
    }
    assert rows[0]["course_value"] == "2"  # mean of 3 and 1; habits are not in the grade

    section_rows = list(
        csv.DictReader(io.StringIO(client.get("/sections/sec-6a/report-cards.csv").text))
    )
    assert sorted({r["student_name"] for r in section_rows}) == [
        "Maya Garcia",
        "Noah Smith",
        "Zoe Adams",
    ]
    school_rows = list(
        csv.DictReader(io.StringIO(client.get("/schools/sch-1/report-cards.csv").text))
    )
    assert len(school_rows) == 9

    for url, names in (
        ("/students/s-maya/report-card.pdf", ["Maya Garcia"]),
        ("/sections/sec-6a/report-cards.pdf", ["Maya Garcia", "Noah Smith", "Zoe Adams"]),
        ("/schools/sch-1/report-cards.pdf", ["Zoe Adams"]),
    ):
        pdf = client.get(url)
        assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
        for name in names:
            assert f"Report card: {name}" in text
    assert client.get("/students/s-maya/report-card.docx").status_code == 422


def test_every_view_shows_how_things_stood_on_a_past_date(client: TestClient) -> None:
    early = client.get("/api/v1/students/s-maya?as_of=2026-09-10").json()
    lines = {o["outcome_id"]: o for o in early["courses"][0]["outcomes"]}
    assert (lines["ratios"]["status"], lines["ratios"]["level_label"]) == (
        "approaching",
        "Approaching",
    )
    assert lines["fractions"]["attempts"] == 0
    heat = client.get("/api/v1/sections/sec-6a/heatmap?as_of=2026-09-10").json()["heatmap"]
    assert heat["columns"][0]["mastered"] == 0
    card = client.get("/api/v1/students/s-maya/report-card?as_of=2026-09-10").json()
    assert card["courses"][0]["grade"]["grade"] == "C"
    voided_later = client.get(
        "/api/v1/students/s-maya/outcomes/fractions?as_of=2026-09-23T09:00:30Z"
    ).json()
    assert [a["counted"] for a in voided_later["attempts"]] == [True, True]
    page = client.get("/sections/sec-6a?as_of=2026-09-10")
    assert "Shown as it stood on <strong>2026-09-10</strong>" in page.text
    assert 'href="/students/s-maya?as_of=2026-09-10"' in page.text  # links keep the date
    bad = client.get("/api/v1/students/s-maya?as_of=2026-09-10T10:00")
    assert bad.status_code == 422 and bad.json()["violations"][0]["field"] == "as_of"


def test_the_network_names_its_outcomes(story: Story, client: TestClient) -> None:
    assert "outcomes mastered" in client.get("/students/s-maya").text
    story.network({"outcome": "competency", "outcomes": "competencies"})
    page = client.get("/students/s-maya").text
    assert "competencies mastered" in page and "Riverside Schools" in page


def test_the_start_page_lists_schools_sections_and_people(client: TestClient) -> None:
    data = client.get("/api/v1/directory").json()
    assert data["schools"] == [["sch-1", "Riverside Middle"]]
    assert [s[0] for s in data["students"]] == ["s-zoe", "s-maya", "s-noah"]
    page = client.get("/")
    assert 'href="/families/g-rosa"' in page.text and 'href="/sections/sec-6a"' in page.text
    assert client.get("/students/nobody").status_code == 404


def test_the_app_collects_its_young_generation_as_a_page_server(
    story: Story, evidence: EvidenceRecords, signed_in: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once started, the app freezes its start-up heap and keeps the young generation small
    (arc_platform.heap.PAGE_THRESHOLDS): its pages' own objects, traversed at the services'
    50,000, had stopped a heat map for 30-95 ms."""
    monkeypatch.delenv("ARC_GC_THRESHOLDS", raising=False)
    before = gc.get_threshold()
    service = Reporting(story.model, Config(), MasteryExplains(), evidence)
    try:
        gc.set_threshold(*heap.SERVICE_THRESHOLDS)
        with TestClient(create_app(service, signed_in.access)):
            assert gc.get_threshold() == heap.PAGE_THRESHOLDS
    finally:
        gc.set_threshold(*before)
