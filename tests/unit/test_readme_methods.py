"""The README's table of worked examples says what docs/calculation-methods.md says."""

from __future__ import annotations

import re
from pathlib import Path

from arc_mastery.methods import METHOD_NAMES

ROOT = Path(__file__).resolve().parents[2]


def documented_examples() -> set[tuple[str, str, str]]:
    doc = (ROOT / "docs" / "calculation-methods.md").read_text()
    found = set()
    for block in re.findall(r"```example\n(.*?)```", doc, re.S):
        for line in block.strip().splitlines():
            parts = {
                p.split(":", 1)[0].strip(): p.split(":", 1)[1].strip() for p in line.split("|")
            }
            if "method" in parts and "scores" in parts and "result" in parts:
                found.add((parts["method"], parts["scores"], parts["result"]))
    return found


def test_every_method_has_a_readme_example_that_the_document_holds() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("| method and parameters | scores | result |", 1)[1].split("\n\n", 1)[0]
    table = table.split("- **", 1)[0]
    rows = re.findall(r"^\s*\| `([^`]+)` \| ([^|]+) \| ([^|]+) \|$", table, re.M)
    examples = {(spec, scores.strip(), result.strip()) for spec, scores, result in rows}
    assert {spec.split()[0] for spec, _, _ in examples} >= set(METHOD_NAMES)
    assert examples <= documented_examples()
