"""Values many pairs share, numbered once per process so that a pair holds a small number
instead of a reference (shapes of evidence rows, void reasons, layouts of sealed pairs, shared
values). Pure Python, no I/O."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Numbered(Generic[V]):
    """Values in the order first seen, each found by a key, at most ``limit`` of them.

    Partitions apply in worker threads: a new value is numbered and added as one step, and
    added before its number is returned, so that no number ever names a value not yet there.
    Nothing is ever removed: a number stays valid as long as the process."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.values: list[V] = []
        self.numbers: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def number(self, key: Hashable, make: Callable[[int], V]) -> int | None:
        """The number filed under ``key``; a new one for ``make(number)`` when there is none,
        or None when the table is full."""
        found = self.numbers.get(key)
        if found is None:
            with self._lock:
                found = self.numbers.get(key)
                if found is None:
                    if len(self.values) >= self.limit:
                        return None
                    found = len(self.values)
                    self.values.append(make(found))
                    self.numbers[key] = found
        return found

    def __getitem__(self, number: int) -> V:
        return self.values[number]
