"""Gradebook exports (CSV) read as attempt drafts. Pure: the catalog is passed in.

Two layouts, told apart by the header:

- **wide** (what gradebooks export): one line per student, a ``student_id`` column, and one
  column per outcome, headed by its outcome id or code; a cell is a score, ``EX`` (excused),
  ``M`` (missing), or empty (nothing recorded).
- **long**: one line per student and outcome, with ``student_id``, ``outcome_id`` and ``score``
  (and optionally ``status``) columns.

Optional columns in both: ``assessed_at`` (ISO date or date-time; without a zone, the import's
time zone), ``assessment_ref``, ``assessment_kind``, ``comment``, ``artifact_url``, ``tags``
(separated by ``|``), ``weight``, ``attempt_number``. Values given for the whole import fill
cells left empty. The delimiter (comma, semicolon or tab) is taken from the header line; with
a semicolon or tab, a decimal comma is accepted.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal, InvalidOperation

from arc_evidence.rules import AttemptDraft, CatalogLookup, KnownOutcome, Problem, ScoreEntry

EXCUSED_WORDS = frozenset({"ex", "exc", "excused", "exempt"})
MISSING_WORDS = frozenset({"m", "mi", "missing", "ns", "not submitted"})
ALIASES = {
    "student": "student_id",
    "student_id": "student_id",
    "outcome": "outcome_id",
    "outcome_id": "outcome_id",
    "score": "score",
    "status": "status",
    "date": "assessed_at",
    "assessed_at": "assessed_at",
    "assessment": "assessment_ref",
    "assessment_ref": "assessment_ref",
    "kind": "assessment_kind",
    "assessment_kind": "assessment_kind",
    "comment": "comment",
    "artifact_url": "artifact_url",
    "tags": "tags",
    "weight": "weight",
    "attempt_number": "attempt_number",
}
MAX_LINES = 20_000


@dataclass(frozen=True)
class ImportOptions:
    """Values for the whole import (a cell of the same column overrides them)."""

    recorded_by: str
    assessed_at: datetime | None = None
    assessment_ref: str | None = None
    assessment_kind: str = "test"
    weight: Decimal = Decimal(1)
    tags: tuple[str, ...] = ()
    timezone: tzinfo = UTC


@dataclass(frozen=True)
class CsvProblem:
    line: int | None
    column: str | None
    description: str


@dataclass
class ParsedGradebook:
    layout: str
    source_ref: str
    drafts: list[AttemptDraft] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the CSV line of each draft
    score_columns: list[list[str]] = field(default_factory=list)  # per draft, per entry
    problems: list[CsvProblem] = field(default_factory=list)
    data_lines: int = 0

    def locate(self, problem: Problem) -> CsvProblem:
        """Where a problem found in draft ``problem.row`` lies in the file."""
        if problem.row is None:
            return CsvProblem(None, None, f"{problem.field}: {problem.description}")
        line = self.lines[problem.row]
        column = problem.field
        if problem.entry is not None and problem.field in ("score", "status", "outcome_id"):
            column = self.score_columns[problem.row][problem.entry]
            if self.layout == "long" and problem.field != "score":
                column = problem.field
        elif column.startswith("tags["):
            column = "tags"
        return CsvProblem(line, column, problem.description)


def delimiter_of(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def parse_gradebook(text: str, options: ImportOptions, catalog: CatalogLookup) -> ParsedGradebook:
    text = text.lstrip("\ufeff")
    source_ref = "csv:" + hashlib.sha256(text.encode()).hexdigest()[:16]
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        parsed = ParsedGradebook("wide", source_ref)
        parsed.problems.append(CsvProblem(None, None, "the file is empty"))
        return parsed
    delimiter = delimiter_of(lines[0])
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader)
    reading = _Reading(header, options, catalog, delimiter, source_ref)
    if reading.parsed.problems:
        return reading.parsed
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        reading.parsed.data_lines += 1
        if reading.parsed.data_lines > MAX_LINES:
            reading.problem(reader.line_num, None, f"more than {MAX_LINES} lines")
            break
        reading.line(reader.line_num, cells)
    return reading.parsed


def student_ids(text: str) -> list[str]:
    """Every student a gradebook export names, read as :func:`parse_gradebook` reads the file
    (same header, delimiter and cells): a superset of the students of the drafts it yields, so
    that access can be decided on them before the file is checked against anything."""
    text = text.lstrip("\ufeff")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    reader = csv.reader(io.StringIO(text), delimiter=delimiter_of(lines[0]))
    header = next(reader, [])
    columns = [index for index, name in enumerate(header) if _field(name) == "student_id"]
    found: dict[str, None] = {}
    for cells in reader:
        for index in columns:
            if index < len(cells) and cells[index].strip():
                found[cells[index].strip()] = None
    return list(found)


def data_lines(text: str) -> int:
    """How many data lines (not blank, after the header) :func:`parse_gradebook` would read:
    what the upload's line limit counts, before anything else is checked."""
    text = text.lstrip("\ufeff")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return 0
    reader = csv.reader(io.StringIO(text), delimiter=delimiter_of(lines[0]))
    next(reader, [])
    return sum(1 for cells in reader if any(cell.strip() for cell in cells))


class _Reading:
    def __init__(
        self,
        header: list[str],
        options: ImportOptions,
        catalog: CatalogLookup,
        delimiter: str,
        source_ref: str,
    ) -> None:
        self.header = [name.strip() for name in header]
        self.options = options
        self.catalog = catalog
        self.decimal_comma = delimiter != ","
        self.columns: dict[str, int] = {}
        self.outcome_columns: list[tuple[int, str, str]] = []  # index, header, outcome id
        layout = "long" if any(_field(h) == "outcome_id" for h in self.header) else "wide"
        self.parsed = ParsedGradebook(layout, source_ref)
        self._read_header()

    def problem(self, line: int | None, column: str | None, description: str) -> None:
        self.parsed.problems.append(CsvProblem(line, column, description))

    def _read_header(self) -> None:
        for index, name in enumerate(self.header):
            known = _field(name)
            if known is not None:
                if known in self.columns:
                    self.problem(1, name, f"column {known!r} appears twice")
                self.columns[known] = index
            elif self.parsed.layout == "long":
                self.problem(1, name, f"{name!r} is not a known column")
            else:
                outcome = self._outcome(name)
                if outcome is None:
                    self.problem(
                        1, name, f"{name!r} is neither a known column nor an outcome id or code"
                    )
                else:
                    self.outcome_columns.append((index, name, outcome.outcome_id))
        if "student_id" not in self.columns:
            self.problem(1, "student_id", "a student_id column is required")
        if self.parsed.layout == "long" and "score" not in self.columns:
            self.problem(1, "score", "a score column is required with an outcome_id column")
        if self.parsed.layout == "wide" and not self.outcome_columns and not self.parsed.problems:
            self.problem(1, None, "no outcome columns (headed by an outcome id or code)")

    def _outcome(self, name: str) -> KnownOutcome | None:
        return self.catalog.outcome(name) or self.catalog.outcome_by_code(name)

    def line(self, number: int, cells: list[str]) -> None:
        if len(cells) > len(self.header):
            self.problem(number, None, f"{len(cells)} cells for {len(self.header)} columns")
            return
        problems_before = len(self.parsed.problems)
        cell = _Cells(cells, self.columns)
        entries, score_columns = self._entries(number, cell)
        if not entries and len(self.parsed.problems) == problems_before:
            return  # no score on this line: nothing to record
        options = self.options
        assessed_at = self._when(number, cell.get("assessed_at")) or options.assessed_at
        weight = self._decimal(number, "weight", cell.get("weight"))
        attempt_number = self._integer(number, "attempt_number", cell.get("attempt_number"))
        if attempt_number is not None:
            entries = [
                ScoreEntry(e.outcome_id, e.score, e.status, None, attempt_number) for e in entries
            ]
        tags = [*options.tags, *[t for t in (cell.get("tags") or "").split("|") if t.strip()]]
        if len(self.parsed.problems) > problems_before:
            return
        self.parsed.drafts.append(
            AttemptDraft(
                student_id=cell.get("student_id") or "",
                entries=tuple(entries),
                assessed_at=assessed_at,
                recorded_by=options.recorded_by,
                assessment_ref=cell.get("assessment_ref") or options.assessment_ref,
                assessment_kind=cell.get("assessment_kind") or options.assessment_kind,
                weight=options.weight if weight is None else weight,
                tags=tuple(tags),
                comment=cell.get("comment"),
                artifact_url=cell.get("artifact_url"),
                source="csv",
                source_ref=self.parsed.source_ref,
            )
        )
        self.parsed.lines.append(number)
        self.parsed.score_columns.append(score_columns)

    def _entries(self, number: int, cell: _Cells) -> tuple[list[ScoreEntry], list[str]]:
        if self.parsed.layout == "long":
            name = cell.get("outcome_id") or ""
            outcome = self._outcome(name) if name else None
            status = (cell.get("status") or "").lower() or None
            outcome_id = outcome.outcome_id if outcome else name
            entry = self._score(number, "score", outcome_id, cell.get("score") or "", status)
            return ([entry], ["score"]) if entry else ([], [])
        entries, columns = [], []
        for index, header, outcome_id in self.outcome_columns:
            text = cell.at(index)
            if text:
                entry = self._score(number, header, outcome_id, text, None)
                if entry:
                    entries.append(entry)
                    columns.append(header)
        return entries, columns

    def _score(
        self, number: int, column: str, outcome_id: str, text: str, status: str | None
    ) -> ScoreEntry | None:
        word = text.strip().lower()
        if status in ("excused", "missing"):
            return ScoreEntry(outcome_id, self._decimal(number, column, text), status)
        if word in EXCUSED_WORDS:
            return ScoreEntry(outcome_id, None, "excused")
        if word in MISSING_WORDS:
            return ScoreEntry(outcome_id, None, "missing")
        if not word:
            self.problem(number, column, "a score, EX (excused) or M (missing) is required")
            return None
        score = self._decimal(number, column, text, "a score, EX (excused) or M (missing)")
        if score is None:
            return None
        return ScoreEntry(outcome_id, score, status or "scored")

    def _decimal(
        self, number: int, column: str, text: str | None, expected: str = "a number"
    ) -> Decimal | None:
        if text is None or not text.strip():
            return None
        value = text.strip().replace(",", ".") if self.decimal_comma else text.strip()
        try:
            parsed = Decimal(value)
        except InvalidOperation:
            parsed = Decimal("NaN")
        if not parsed.is_finite():
            self.problem(number, column, f"{text.strip()!r} is not {expected}")
            return None
        return parsed

    def _integer(self, number: int, column: str, text: str | None) -> int | None:
        if text is None or not text.strip():
            return None
        if not text.strip().isdigit():
            self.problem(number, column, f"{text.strip()!r} is not a whole number")
            return None
        return int(text.strip())

    def _when(self, number: int, text: str | None) -> datetime | None:
        if text is None or not text.strip():
            return None
        value = text.strip()
        try:
            if "T" in value.upper() or ":" in value:
                parsed = datetime.fromisoformat(value.replace(" ", "T", 1))
            else:
                parsed = datetime.combine(date.fromisoformat(value), time())
        except ValueError:
            self.problem(
                number, "assessed_at", f"{value!r} is not a date (2026-09-14) or date-time"
            )
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=self.options.timezone)


class _Cells:
    def __init__(self, cells: list[str], columns: dict[str, int]) -> None:
        self.cells = cells
        self.columns = columns

    def at(self, index: int) -> str:
        return self.cells[index].strip() if index < len(self.cells) else ""

    def get(self, name: str) -> str | None:
        index = self.columns.get(name)
        if index is None:
            return None
        return self.at(index) or None


def _field(header: str) -> str | None:
    key = header.strip().lower().replace(" ", "_").replace("-", "_")
    return ALIASES.get(key)
