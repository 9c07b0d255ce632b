"""Lists show only the students the caller may read (``access.visible``), and every student
shown is written to the access log. Aggregates (a school's distribution) are counted over
what the caller's scope request allowed; the students counted are logged as read."""

from __future__ import annotations

import dataclasses

from fastapi import Request

from arc_reporting.access import visible
from arc_reporting.views.leader import LeaderPage
from arc_reporting.views.report_card import ReportCards
from arc_reporting.views.section import SectionPage
from arc_reporting.views.student import FamilyPage
from arc_reporting.views.warnings import WarningsPage


async def section_shown(request: Request, view: SectionPage) -> SectionPage:
    shown = await visible(request, view.names)
    if len(shown) == len(view.names):  # all of them (a teacher's own section, a leader)
        return view
    heatmap = view.heatmap
    columns = [
        dataclasses.replace(c, no_evidence=tuple(s for s in c.no_evidence if s in shown))
        for c in heatmap.columns
    ]
    rows = [r for r in heatmap.rows if r.student_id in shown]
    return dataclasses.replace(
        view,
        heatmap=dataclasses.replace(heatmap, columns=columns, rows=rows),
        names={s: n for s, n in view.names.items() if s in shown},
    )


async def cards_shown(request: Request, cards: ReportCards) -> ReportCards:
    shown = await visible(request, (c.student_id for c in cards.cards))
    return dataclasses.replace(cards, cards=[c for c in cards.cards if c.student_id in shown])


async def warnings_shown(request: Request, view: WarningsPage) -> WarningsPage:
    shown = await visible(request, (w.student_id for w in view.warnings))
    return dataclasses.replace(view, warnings=[w for w in view.warnings if w.student_id in shown])


async def family_shown(request: Request, view: FamilyPage) -> FamilyPage:
    shown = await visible(request, (c.student_id for c in view.children))
    return dataclasses.replace(view, children=[c for c in view.children if c.student_id in shown])


async def leader_logged(request: Request, view: LeaderPage) -> LeaderPage:
    await visible(request, view.student_ids)
    return view
