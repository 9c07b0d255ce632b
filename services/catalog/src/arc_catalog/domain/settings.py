"""Network settings: the network's name, its default scale, and the words its screens use.

The API always says "outcome"; a network that says "competency" or "learning target" sets the
labels here and every UI reads them from the catalog. Pure Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from arc_catalog.domain.errors import Violation, id_problems, text_problems

#: Every label a UI may ask for, with its default wording.
DEFAULT_LABELS: Mapping[str, str] = {
    "outcome": "outcome",
    "outcomes": "outcomes",
    "group": "group",
    "groups": "groups",
    "framework": "framework",
    "frameworks": "frameworks",
    "power_outcome": "power outcome",
}


@dataclass(frozen=True)
class NetworkSettings:
    name: str = "Mastery Arc"
    labels: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_LABELS))
    default_scale_id: str | None = None


def with_default_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Labels the network did not set keep their default wording."""
    return {key: labels.get(key, "").strip() or value for key, value in DEFAULT_LABELS.items()}


def settings_problems(settings: NetworkSettings) -> list[Violation]:
    problems = text_problems("name", settings.name, limit=200)
    for key, value in settings.labels.items():
        if key not in DEFAULT_LABELS:
            known = ", ".join(DEFAULT_LABELS)
            problems.append(Violation(f"labels.{key}", f"unknown label; known: {known}"))
        else:
            problems += text_problems(f"labels.{key}", value, limit=60)
    if settings.default_scale_id is not None:
        problems += id_problems("default_scale_id", settings.default_scale_id)
    return problems
