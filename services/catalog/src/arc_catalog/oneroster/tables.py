"""CSV files of a OneRoster set as tables whose rows know their line numbers, and problems that
name file, line and column. Pure: bytes in, tables out."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from arc_catalog.domain.errors import Violation


@dataclass(frozen=True)
class RowProblem:
    """A problem at ``file`` line ``line`` (1 is the header), column ``column``."""

    file: str
    line: int | None
    column: str | None
    message: str

    @property
    def where(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts)

    def violation(self) -> Violation:
        field = ":".join(
            part for part in (self.file, str(self.line or ""), self.column or "") if part
        )
        return Violation(field, self.message)

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class Row:
    file: str
    line: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        return self.values.get(column, "").strip()

    def many(self, column: str) -> list[str]:
        """A multi-valued field: values separated by commas."""
        return [part.strip() for part in self.get(column).split(",") if part.strip()]

    def problem(self, column: str | None, message: str) -> RowProblem:
        return RowProblem(self.file, self.line, column, message)


@dataclass
class Table:
    file: str
    header: list[str]
    rows: list[Row] = field(default_factory=list)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)


def read_table(file: str, content: bytes, problems: list[RowProblem]) -> Table | None:
    """Read one CSV file; structural problems (encoding, header, field counts) go to
    ``problems`` and the bad rows are left out."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(RowProblem(file, None, None, f"not UTF-8 (byte {exc.start})"))
        return None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        problems.append(RowProblem(file, 1, None, "the file is empty; it needs a header"))
        return None
    except csv.Error as exc:
        problems.append(RowProblem(file, 1, None, f"unreadable CSV: {exc}"))
        return None
    seen: set[str] = set()
    for name in header:
        if not name:
            problems.append(RowProblem(file, 1, None, "a header cell is empty"))
        elif name in seen:
            problems.append(RowProblem(file, 1, name, "this column appears twice"))
        seen.add(name)
    table = Table(file, header)
    line = 1
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(RowProblem(file, start, None, f"unreadable CSV: {exc}"))
            break
        line = start
        if not cells or all(not cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            problems.append(
                RowProblem(file, line, None, f"{len(cells)} fields, the header has {len(header)}")
            )
            continue
        table.rows.append(Row(file, line, dict(zip(header, cells, strict=True))))
    return table
