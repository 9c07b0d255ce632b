"""Reporting's use cases as one object the APIs call: each builds a view from the read model
(in a worker thread: the database calls block) and, where a view shows "what counts and why",
asks mastery for explanations."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import ParamSpec, TypeVar

from arc_reporting import charts
from arc_reporting.clients import (
    ClassEntry,
    EntryResult,
    EvidenceEntry,
    Explainer,
    NoEvidenceEntry,
    NoExplainer,
    explain_many,
)
from arc_reporting.domain.heatmap import HeatMapOptions
from arc_reporting.read_model import ReportingReadModel
from arc_reporting.views import directory, leader, report_card, section, student, warnings
from arc_reporting.views.common import Config, NotFound

P = ParamSpec("P")
T = TypeVar("T")


class Reporting:
    def __init__(
        self,
        model: ReportingReadModel,
        config: Config | None = None,
        explainer: Explainer | None = None,
        evidence: EvidenceEntry | None = None,
    ) -> None:
        self.model = model
        self.config = config or Config()
        self.explainer: Explainer = explainer or NoExplainer()
        self.evidence: EvidenceEntry = evidence or NoEvidenceEntry()

    async def _run(self, build: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(build, *args, **kwargs)

    async def directory(self, as_of: datetime | None) -> directory.Directory:
        return await self._run(directory.directory, self.model, self.config, as_of)

    async def student(self, student_id: str, as_of: datetime | None) -> student.StudentPage:
        page = await self._run(student.student_page, self.model, self.config, student_id, as_of)
        found = await explain_many(self.explainer, student_id, page.outcome_ids(), as_of)
        return page.with_explanations({o: e.summary for o, e in found.items()})

    async def outcome(
        self, student_id: str, outcome_id: str, as_of: datetime | None
    ) -> student.OutcomeDetail:
        detail = await self._run(
            student.outcome_detail, self.model, self.config, student_id, outcome_id, as_of
        )
        if detail.line.status != "no_evidence" or detail.attempts:
            detail.explanation = await self.explainer.explain(student_id, outcome_id, as_of)
        return detail

    async def outcome_chart(self, student_id: str, outcome_id: str, as_of: datetime | None) -> str:
        detail = await self._run(
            student.outcome_detail, self.model, self.config, student_id, outcome_id, as_of
        )
        return timeline_svg(detail)

    async def family(self, guardian_id: str, as_of: datetime | None) -> student.FamilyPage:
        page = await self._run(student.family_page, self.model, self.config, guardian_id, as_of)
        for child in page.children:
            found = await explain_many(self.explainer, child.student_id, child.outcome_ids(), as_of)
            child.with_explanations({o: e.summary for o, e in found.items()})
        return page

    async def teacher(self, teacher_id: str, as_of: datetime | None) -> section.TeacherPage:
        return await self._run(section.teacher_page, self.model, self.config, teacher_id, as_of)

    async def section(
        self, section_id: str, as_of: datetime | None, options: HeatMapOptions
    ) -> section.SectionPage:
        return await self._run(
            section.section_page, self.model, self.config, section_id, as_of, options
        )

    async def entry_form(self, section_id: str, outcome_ids: list[str]) -> section.EntryForm:
        return await self._run(section.entry_form, self.model, self.config, section_id, outcome_ids)

    async def record_class_evidence(self, entry: ClassEntry) -> EntryResult:
        form = await self.entry_form(entry.section_id, [])
        roster = {s for s, _ in form.students}
        for index, row in enumerate(entry.rows):
            if row.student_id not in roster:
                raise NotFound(f"rows[{index}].student_id", f"{row.student_id!r} is not in this section")
        return await self.evidence.record(entry)

    async def leader(
        self,
        school_id: str | None,
        course_id: str | None,
        as_of: datetime | None,
        start: datetime | None,
        interval: str,
    ) -> leader.LeaderPage:
        return await self._run(
            leader.leader_page, self.model, self.config, school_id, course_id, as_of, start, interval
        )

    async def warnings(
        self, school_id: str | None, section_id: str | None, as_of: datetime | None
    ) -> warnings.WarningsPage:
        return await self._run(
            warnings.warnings_page, self.model, self.config, school_id, section_id, as_of
        )

    async def report_card(self, student_id: str, as_of: datetime | None) -> report_card.ReportCard:
        return await self._run(report_card.report_card, self.model, self.config, student_id, as_of)

    async def section_cards(
        self, section_id: str, as_of: datetime | None
    ) -> report_card.ReportCards:
        return await self._run(report_card.section_cards, self.model, self.config, section_id, as_of)

    async def school_cards(self, school_id: str, as_of: datetime | None) -> report_card.ReportCards:
        return await self._run(report_card.school_cards, self.model, self.config, school_id, as_of)


def timeline_svg(detail: student.OutcomeDetail) -> str:
    return charts.outcome_timeline(
        f"{detail.code}: {detail.student_name}", detail.scale, detail.history, detail.shown
    )
