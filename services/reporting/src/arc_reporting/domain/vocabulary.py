"""The words screens use. A network calls its outcomes "competencies" or "standards": the
catalog's network settings say so (``labels``), else the ``ARC_OUTCOME_LABEL`` setting."""

from __future__ import annotations

from dataclasses import dataclass

from arc_contracts import NetworkSettingsDefinedV1

#: Plain language for families, per status.
PLAIN_STATUS = {
    "mastered": "Can do this",
    "approaching": "Getting close",
    "not_yet": "Not yet: still learning",
    "needs_judgment": "Teacher is reviewing",
    "no_evidence": "Not assessed yet",
}


@dataclass(frozen=True)
class Vocabulary:
    outcome: str = "outcome"
    outcomes: str = "outcomes"
    network_name: str = "Mastery Arc"

    @classmethod
    def of(
        cls, network: NetworkSettingsDefinedV1 | None, outcome: str, outcomes: str | None
    ) -> Vocabulary:
        """Network settings first; the settings' words otherwise."""
        labels = dict(network.labels) if network else {}
        singular = labels.get("outcome") or outcome
        plural = labels.get("outcomes") or (outcomes if "outcome" not in labels else None)
        return cls(
            singular,
            plural or _plural(singular),
            network.network_name if network else cls.network_name,
        )


def _plural(word: str) -> str:
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"
