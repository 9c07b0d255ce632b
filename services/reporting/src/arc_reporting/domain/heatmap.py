"""A section's heat map: students × outcomes, each cell the student's standing, with sorting,
filtering and the list of students without evidence per outcome. Pure Python, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from arc_contracts import OutcomeDefinedV1
from arc_reporting.domain.asof import BadField
from arc_reporting.domain.palette import NO_EVIDENCE_COLOUR, level_colour, text_on
from arc_reporting.domain.records import NO_EVIDENCE, STATUSES, Standing

SORTS = ("name", "mastered", "needs_support")


@dataclass(frozen=True)
class HeatMapOptions:
    """``sort``: name, mastered (most first), needs_support (most not-yet or no-evidence
    first), or ``outcome:<id>`` (by the value on that outcome, no evidence last).
    ``power_only``/``tag`` choose the outcome columns; ``q`` filters students by name;
    ``status`` keeps students with at least one shown cell in that status."""

    sort: str = "name"
    descending: bool = False
    power_only: bool = False
    tag: str | None = None
    q: str | None = None
    status: str | None = None

    def check(self, outcome_ids: Sequence[str]) -> None:
        if self.sort not in SORTS and not (
            self.sort.startswith("outcome:") and self.sort.removeprefix("outcome:") in outcome_ids
        ):
            raise BadField(
                "sort",
                f"{self.sort!r}: use {', '.join(SORTS)} or outcome:<outcome id of this section>",
            )
        if self.status is not None and self.status not in STATUSES:
            raise BadField("status", f"{self.status!r}: use one of {', '.join(STATUSES)}")


@dataclass(frozen=True)
class Column:
    outcome_id: str
    code: str
    statement: str
    power: bool
    mastered: int
    with_evidence: int
    no_evidence: tuple[str, ...]  # student ids


@dataclass(frozen=True)
class Cell:
    outcome_id: str
    status: str
    value: Decimal | None
    label: str
    colour: str
    text_colour: str


@dataclass(frozen=True)
class Row:
    student_id: str
    name: str
    cells: tuple[Cell, ...]
    mastered: int
    needs_support: int


@dataclass
class HeatMap:
    columns: list[Column] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    students_total: int = 0


def cell_of(outcome: OutcomeDefinedV1, standing: Standing) -> Cell:
    if standing.status == "no_evidence":
        colour = NO_EVIDENCE_COLOUR
        label = "No evidence"
    else:
        colour = level_colour(outcome.scale, standing.level, standing.value)
        label = standing.label or standing.status.replace("_", " ").capitalize()
        if standing.status == "needs_judgment":
            label = f"{label} (needs judgment)"
    return Cell(outcome.outcome_id, standing.status, standing.value, label, colour, text_on(colour))


def shape(
    students: Sequence[tuple[str, str, tuple[str, str, str]]],
    outcomes: Sequence[tuple[OutcomeDefinedV1, bool]],
    standings: dict[tuple[str, str], Standing],
    options: HeatMapOptions,
) -> HeatMap:
    """``students``: (id, display name, sort name) in any order."""
    options.check([o.outcome_id for o, _ in outcomes])
    shown = [
        (o, power)
        for o, power in outcomes
        if (not options.power_only or power) and (options.tag is None or options.tag in o.tags)
    ]
    # Cells that look alike are one object: a class has few distinct (outcome, level) pairs.
    alike: dict[tuple[str, str, str | None, Decimal | None, str | None], Cell] = {}
    without_evidence = [(o.outcome_id, o, cell_of(o, NO_EVIDENCE)) for o, _ in shown]
    rows = []
    for student_id, name, _ in students:
        cells = tuple(
            empty
            if (standing := standings.get((student_id, outcome_id))) is None
            # Most cells of a class have no evidence: looked up without building a key.
            else _cell(alike, outcome, standing)
            for outcome_id, outcome, empty in without_evidence
        )
        statuses = [c.status for c in cells]
        needs_support = statuses.count("not_yet") + statuses.count("no_evidence")
        rows.append(Row(student_id, name, cells, statuses.count("mastered"), needs_support))
    sort_names = {sid: key for sid, _, key in students}
    student_ids = [row.student_id for row in rows]
    # Each column's cells, top to bottom (one empty tuple per column when no student is shown).
    by_column = list(zip(*(row.cells for row in rows), strict=True)) or [() for _ in shown]
    columns = [
        _column(o, power, student_ids, cells, sort_names)
        for (o, power), cells in zip(shown, by_column, strict=True)
    ]
    kept = [r for r in rows if _keep(r, options)]
    return HeatMap(
        columns, _sorted(kept, options, sort_names, [o.outcome_id for o, _ in shown]), len(rows)
    )


def _cell(
    alike: dict[tuple[str, str, str | None, Decimal | None, str | None], Cell],
    outcome: OutcomeDefinedV1,
    standing: Standing,
) -> Cell:
    """``cell_of``, once per distinct look (what a cell shows depends only on this key; the
    value as text, since 3 and 3.0 are equal decimals but not the same JSON)."""
    value = None if standing.value is None else str(standing.value)
    key = (outcome.outcome_id, standing.status, value, standing.level, standing.label)
    cell = alike.get(key)
    if cell is None:
        cell = alike[key] = cell_of(outcome, standing)
    return cell


def _column(
    outcome: OutcomeDefinedV1,
    power: bool,
    student_ids: list[str],
    cells: Sequence[Cell],
    sort_names: dict[str, tuple[str, str, str]],
) -> Column:
    missing = sorted(
        (s for s, c in zip(student_ids, cells, strict=True) if c.status == "no_evidence"),
        key=sort_names.__getitem__,
    )
    return Column(
        outcome.outcome_id,
        outcome.code,
        outcome.statement,
        power,
        sum(1 for c in cells if c.status == "mastered"),
        len(cells) - len(missing),
        tuple(missing),
    )


def _keep(row: Row, options: HeatMapOptions) -> bool:
    if (
        options.q
        and options.q.lower() not in row.name.lower()
        and options.q.lower() not in row.student_id.lower()
    ):
        return False
    return options.status is None or any(c.status == options.status for c in row.cells)


def _sorted(
    rows: list[Row],
    options: HeatMapOptions,
    names: dict[str, tuple[str, str, str]],
    shown: list[str],
) -> list[Row]:
    by_name = sorted(rows, key=lambda r: names[r.student_id])
    if options.sort == "name":
        return list(reversed(by_name)) if options.descending else by_name
    if options.sort in ("mastered", "needs_support"):
        # Most first by default; "descending" flips to fewest first. Ties stay by name.
        key = (lambda r: r.mastered) if options.sort == "mastered" else (lambda r: r.needs_support)
        return sorted(by_name, key=key, reverse=not options.descending)
    outcome_id = options.sort.removeprefix("outcome:")
    if outcome_id not in shown:
        return by_name
    index = shown.index(outcome_id)

    with_value = [r for r in by_name if r.cells[index].value is not None]
    without = [r for r in by_name if r.cells[index].value is None]
    with_value.sort(key=lambda r: r.cells[index].value or Decimal(0), reverse=options.descending)
    return with_value + without
