"""Values numbered once per process: the same key keeps its number, a full table says so, and
a value is made once, with its own number."""

from __future__ import annotations

import pytest

from arc_mastery.numbering import Numbered


def test_a_key_keeps_its_number_and_its_value_is_made_once() -> None:
    made: list[int] = []

    def make(number: int) -> str:
        made.append(number)
        return f"value {number}"

    table: Numbered[str] = Numbered(limit=2)
    assert table.number("a", make) == 0
    assert table.number("b", make) == 1
    assert table.number("a", make) == 0
    assert made == [0, 1]
    assert table[1] == "value 1"
    assert table.number("c", make) is None  # full: the caller keeps the value another way
    assert table.number("b", make) == 1  # what is there still answers
    assert made == [0, 1]


def test_an_unhashable_key_is_refused_as_python_refuses_it() -> None:
    table: Numbered[str] = Numbered(limit=10)
    with pytest.raises(TypeError):
        table.number(["not", "hashable"], lambda _: "x")  # type: ignore[arg-type]
    assert table.values == []
