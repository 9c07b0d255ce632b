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
from arc_reporting.views import directory as directory_views
from arc_reporting.views import leader as leader_views
from arc_reporting.views import report_card as card_views
from arc_reporting.views import section as section_views
from arc_reporting.views import student as student_views
from arc_reporting.views import warnings as warning_views
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

    async def directory(self, as_of: datetime | None) -> directory_views.Directory:
        return await self._run(directory_views.directory, self.model, self.config, as_of)

    async def student(self, student_id: str, as_of: datetime | None) -> student_views.StudentPage:
        page = await self._run(
            student_views.student_page, self.model, self.config, student_id, as_of
        )
        found = await explain_many(self.explainer, student_id, page.outcome_ids(), as_of)
        return page.with_explanations({o: e.summary for o, e in found.items()})

    async def outcome(
        self, student_id: str, outcome_id: str, as_of: datetime | None
    ) -> student_views.OutcomeDetail:
        detail = await self._run(
            student_views.outcome_detail, self.model, self.config, student_id, outcome_id, as_of
        )
        if detail.line.status != "no_evidence" or detail.attempts:
            detail.explanation = await self.explainer.explain(student_id, outcome_id, as_of)
        return detail

    async def outcome_chart(self, student_id: str, outcome_id: str, as_of: datetime | None) -> str:
        detail = await self._run(
            student_views.outcome_detail, self.model, self.config, student_id, outcome_id, as_of
        )
        return timeline_svg(detail)

    async def family(self, guardian_id: str, as_of: datetime | None) -> student_views.FamilyPage:
        page = await self._run(
            student_views.family_page, self.model, self.config, guardian_id, as_of
        )
        for child in page.children:
            found = await explain_many(self.explainer, child.student_id, child.outcome_ids(), as_of)
            child.with_explanations({o: e.summary for o, e in found.items()})
        return page

    async def teacher(self, teacher_id: str, as_of: datetime | None) -> section_views.TeacherPage:
        return await self._run(
            section_views.teacher_page, self.model, self.config, teacher_id, as_of
        )

    async def section(
        self, section_id: str, as_of: datetime | None, options: HeatMapOptions
    ) -> section_views.SectionPage:
        return await self._run(
            section_views.section_page, self.model, self.config, section_id, as_of, options
        )

    async def entry_form(self, section_id: str, outcome_ids: list[str]) -> section_views.EntryForm:
        return await self._run(
            section_views.entry_form, self.model, self.config, section_id, outcome_ids
        )

    async def record_class_evidence(self, entry: ClassEntry) -> EntryResult:
        form = await self.entry_form(entry.section_id, [])
        roster = {s for s, _ in form.students}
        for index, row in enumerate(entry.rows):
            if row.student_id not in roster:
                raise NotFound(
                    f"rows[{index}].student_id", f"{row.student_id!r} is not in this section"
                )
        return await self.evidence.record(entry)

    async def leader(
        self,
        school_id: str | None,
        course_id: str | None,
        as_of: datetime | None,
        start: datetime | None,
        interval: str,
    ) -> leader_views.LeaderPage:
        return await self._run(
            leader_views.leader_page,
            self.model,
            self.config,
            school_id,
            course_id,
            as_of,
            start,
            interval,
        )

    async def warnings(
        self, school_id: str | None, section_id: str | None, as_of: datetime | None
    ) -> warning_views.WarningsPage:
        return await self._run(
            warning_views.warnings_page, self.model, self.config, school_id, section_id, as_of
        )

    async def report_card(self, student_id: str, as_of: datetime | None) -> card_views.ReportCard:
        return await self._run(card_views.report_card, self.model, self.config, student_id, as_of)

    async def section_cards(
        self, section_id: str, as_of: datetime | None
    ) -> card_views.ReportCards:
        return await self._run(card_views.section_cards, self.model, self.config, section_id, as_of)

    async def school_cards(self, school_id: str, as_of: datetime | None) -> card_views.ReportCards:
        return await self._run(card_views.school_cards, self.model, self.config, school_id, as_of)


def timeline_svg(detail: student_views.OutcomeDetail) -> str:
    return charts.outcome_timeline(
        f"{detail.code}: {detail.student_name}", detail.scale, detail.history, detail.shown
    )
