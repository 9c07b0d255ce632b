"""Scales, outcomes, frameworks and their groups, network settings, and CASE export."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from arc_catalog.case.export import export_package, generated_identifier
from arc_catalog.core import SETTINGS_KEY, CatalogCore, Saved, Versioned, checked
from arc_catalog.domain.errors import InvalidDefinition, Violation, id_problems, slug
from arc_catalog.domain.outcomes import (
    CaseRef,
    FrameworkDefinition,
    Group,
    OutcomeDefinition,
    framework_problems,
    normalized_outcome,
    outcome_problems,
    parent_chain_problem,
)
from arc_catalog.domain.records import (
    FrameworkRecord,
    OutcomeRecord,
    OutcomeState,
    ScaleRecord,
    ScaleSnapshot,
    SettingsRecord,
    to_primitive,
)
from arc_catalog.domain.scales import ProficiencyScale, scale_problems
from arc_catalog.domain.settings import NetworkSettings, settings_problems


@dataclass(frozen=True)
class FrameworkTree:
    framework: Versioned[FrameworkDefinition]
    #: the framework's outcomes, parents before children, with their depth in the tree
    outcomes: list[tuple[int, Versioned[OutcomeState]]]


class OutcomeCases(CatalogCore):
    # --- scales ----------------------------------------------------------------------------

    def define_scale(self, scale_id: str, scale: ProficiencyScale, traceparent: str = "") -> Saved:
        """Define a scale, or revise it: then every outcome on it gets a revision carrying the
        new scale, in the same transaction, so that every consumer's copy stays right."""
        checked(id_problems("scale_id", scale_id) + scale_problems(scale))
        with self.writing():
            record = self.put(ScaleRecord, scale_id, scale, traceparent)
            if record.revision == 1 or not record.pending_events:
                return self.saved(record)
            snapshot = record.snapshot()
            outcomes = [
                self.require(OutcomeRecord, key)
                for key in self.index.keys("outcome", {"scale": scale_id})
            ]
            for outcome in outcomes:
                state = replace(outcome.state, scale=snapshot)
                outcome.record(to_primitive(state), traceparent, self.actor())
            return self.saved(record, *outcomes)

    def get_scale(self, scale_id: str, revision: int | None = None) -> Versioned[ProficiencyScale]:
        return self.versioned(self.require(ScaleRecord, scale_id, revision))

    def list_scales(self) -> list[Versioned[ProficiencyScale]]:
        return self.listed(ProficiencyScale, "scale")

    # --- outcomes --------------------------------------------------------------------------

    def define_outcome(
        self,
        outcome_id: str,
        definition: OutcomeDefinition,
        scale: ProficiencyScale | None = None,
        traceparent: str = "",
    ) -> Saved:
        """Define an outcome or revise it (the whole definition). ``scale`` may come inline:
        it is then defined under ``definition.scale_id`` (or an id made from its name), or
        reused when a scale of that id has the same definition."""
        definition = normalized_outcome(definition)
        outcome_id = outcome_id.strip() or slug(definition.code)
        with self.writing():
            existing = self.load(OutcomeRecord, outcome_id)
            new_scale, snapshot = self._scale_for(definition, scale, existing)
            definition = replace(
                definition,
                scale_id=snapshot.scale_id,
                case=existing.state.definition.case if existing else None,
            )
            checked(self._outcome_problems(outcome_id, definition, existing))
            record = self.put(
                OutcomeRecord, outcome_id, OutcomeState(definition, snapshot), traceparent, existing
            )
            return self.saved(record, *([new_scale] if new_scale else []))

    def retire_outcome(self, outcome_id: str, traceparent: str = "") -> Saved:
        """A retired outcome takes no new evidence; its history stays."""
        with self.writing():
            record = self.require(OutcomeRecord, outcome_id)
            state = record.state
            retired = replace(state, definition=replace(state.definition, retired=True))
            record.record(to_primitive(retired), traceparent, self.actor())
            return self.saved(record)

    def get_outcome(self, outcome_id: str, revision: int | None = None) -> Versioned[OutcomeState]:
        return self.versioned(self.require(OutcomeRecord, outcome_id, revision))

    def list_outcomes(
        self,
        framework_id: str | None = None,
        scale_id: str | None = None,
        tag: str | None = None,
        include_retired: bool = False,
    ) -> list[Versioned[OutcomeState]]:
        status = None if include_retired else "live"
        where = {"framework": framework_id, "scale": scale_id, "tag": tag, "status": status}
        return self.listed(OutcomeState, "outcome", **where)

    def _scale_for(
        self,
        definition: OutcomeDefinition,
        inline: ProficiencyScale | None,
        existing: OutcomeRecord | None,
    ) -> tuple[ScaleRecord | None, ScaleSnapshot]:
        if inline is not None:
            scale_id = definition.scale_id or slug(inline.name) or "default"
            checked(id_problems("scale_id", scale_id) + scale_problems(inline))
            held = self.load(ScaleRecord, scale_id)
            if held is None:
                created = ScaleRecord(
                    key=scale_id, data=to_primitive(inline), traceparent="", actor=self.actor()
                )
                return created, created.snapshot()
            if held.state != inline:
                raise InvalidDefinition(
                    "scale",
                    f"a different scale {scale_id!r} exists; revise it with DefineScale, "
                    "or give this one another name",
                )
            return None, held.snapshot()
        scale_id = (
            definition.scale_id
            or (existing.state.definition.scale_id if existing else "")
            or (self.settings().value.default_scale_id or "")
        )
        if not scale_id:
            raise InvalidDefinition(
                "scale_id", "name a scale: the outcome has none and the network has no default"
            )
        return None, self.scale_snapshot(scale_id)

    def _outcome_problems(
        self, outcome_id: str, definition: OutcomeDefinition, existing: OutcomeRecord | None
    ) -> list[Violation]:
        problems = outcome_problems(outcome_id, definition)
        problems += self.check_known("framework", {"framework_id": definition.framework_id})
        if definition.parent_id and definition.framework_id and not problems:
            problems += self._parent_problems(outcome_id, definition)
        before = set(existing.state.definition.aligned_to) if existing else set()
        for index, target in enumerate(definition.aligned_to):
            if target not in before and not self.exists("outcome", target):
                problems.append(Violation(f"aligned_to[{index}]", f"unknown outcome {target!r}"))
        return problems

    def _parent_problems(self, outcome_id: str, definition: OutcomeDefinition) -> list[Violation]:
        framework_id, parent_id = definition.framework_id, definition.parent_id
        assert framework_id is not None and parent_id is not None
        framework = self.require(FrameworkRecord, framework_id).state
        if framework.group(parent_id) is not None:
            return []
        parent = self.outcome_state(parent_id)
        if parent is None or parent.definition.framework_id != framework_id:
            return [
                Violation("parent_id", f"no group or outcome {parent_id!r} in {framework_id!r}")
            ]
        parents = {
            entry.key: entry.value.definition.parent_id
            for entry in self.list_outcomes(framework_id, include_retired=True)
        }
        problem = parent_chain_problem(outcome_id, parent_id, parents)
        return [problem] if problem else []

    # --- frameworks and groups -----------------------------------------------------------------

    def define_framework(
        self, framework_id: str, definition: FrameworkDefinition, traceparent: str = ""
    ) -> Saved:
        """Define or revise a framework's own fields; its groups and CASE origin are kept."""
        with self.writing():
            existing = self.load(FrameworkRecord, framework_id)
            if existing is not None:
                held = existing.state
                definition = replace(definition, groups=held.groups, case=held.case)
            checked(framework_problems(framework_id, definition))
            return self.saved(
                self.put(FrameworkRecord, framework_id, definition, traceparent, existing)
            )

    def define_group(self, framework_id: str, group: Group, traceparent: str = "") -> Saved:
        with self.writing():
            record = self.require(FrameworkRecord, framework_id, field="framework_id")
            held = record.state
            kept = held.group(group.group_id)
            group = replace(group, case=kept.case if kept else None)
            if kept is None:
                groups = (*held.groups, group)
            else:
                groups = tuple(group if g.group_id == group.group_id else g for g in held.groups)
            definition = replace(held, groups=groups)
            checked(framework_problems(framework_id, definition))
            record.record(to_primitive(definition), traceparent, self.actor())
            return self.saved(record)

    def remove_group(self, framework_id: str, group_id: str, traceparent: str = "") -> Saved:
        with self.writing():
            record = self.require(FrameworkRecord, framework_id, field="framework_id")
            held = record.state
            if held.group(group_id) is None:
                raise InvalidDefinition("group_id", f"no group {group_id!r} in {framework_id!r}")
            children = [g.group_id for g in held.groups if g.parent_id == group_id]
            children += self.index.keys("outcome", {"framework": framework_id, "parent": group_id})
            if children:
                raise InvalidDefinition(
                    "group_id", f"{group_id!r} still holds {', '.join(sorted(children))}"
                )
            groups = tuple(g for g in held.groups if g.group_id != group_id)
            record.record(to_primitive(replace(held, groups=groups)), traceparent, self.actor())
            return self.saved(record)

    def get_framework(self, framework_id: str) -> FrameworkTree:
        framework = self.versioned(self.require(FrameworkRecord, framework_id))
        outcomes = self.list_outcomes(framework_id)
        return FrameworkTree(framework, tree_order(framework.value, outcomes))

    def list_frameworks(self) -> list[Versioned[FrameworkDefinition]]:
        return self.listed(FrameworkDefinition, "framework")

    def export_case(self, framework_id: str, now: datetime | None = None) -> dict[str, Any]:
        """The framework as a CASE 1.0 package (retired outcomes left out)."""
        framework = self.require(FrameworkRecord, framework_id).state
        outcomes = {
            e.key: e.value.definition
            for e in self.list_outcomes(framework_id, include_retired=True)
        }
        aligned = {target for o in outcomes.values() for target in o.aligned_to}
        targets = {target: self._case_ref(target) for target in aligned}
        return export_package(framework_id, framework, outcomes, targets, now or datetime.now(UTC))

    def _case_ref(self, outcome_id: str) -> CaseRef | None:
        state = self.outcome_state(outcome_id)
        if state is None:
            return None
        if state.definition.case is not None:
            return state.definition.case
        identifier = generated_identifier(state.definition.framework_id or "", outcome_id)
        return CaseRef(identifier, f"urn:uuid:{identifier}")

    # --- network settings ------------------------------------------------------------------

    def set_settings(self, settings: NetworkSettings, traceparent: str = "") -> Saved:
        problems = settings_problems(settings)
        with self.writing():
            problems += self.check_known("scale", {"default_scale_id": settings.default_scale_id})
            checked(problems)
            return self.saved(self.put(SettingsRecord, SETTINGS_KEY, settings, traceparent))


def tree_order(
    framework: FrameworkDefinition, outcomes: list[Versioned[OutcomeState]]
) -> list[tuple[int, Versioned[OutcomeState]]]:
    """Parents before children, siblings by code; depth counts groups too."""
    children: dict[str | None, list[Versioned[OutcomeState]]] = {}
    keys = {o.key for o in outcomes}
    group_parent: Mapping[str, str | None] = {g.group_id: g.parent_id for g in framework.groups}
    for outcome in outcomes:
        parent = outcome.value.definition.parent_id
        children.setdefault(
            parent if parent in keys or parent in group_parent else None, []
        ).append(outcome)
    ordered: list[tuple[int, Versioned[OutcomeState]]] = []

    def depth_of_group(group_id: str | None) -> int:
        depth = 0
        while group_id is not None:
            depth += 1
            group_id = group_parent.get(group_id)
        return depth

    def visit(parent: str | None, depth: int) -> None:
        for outcome in sorted(
            children.get(parent, []), key=lambda o: natural(o.value.definition.code)
        ):
            ordered.append((depth, outcome))
            visit(outcome.key, depth + 1)

    visit(None, 0)
    for group_id in group_parent:
        visit(group_id, depth_of_group(group_id))
    return ordered


def natural(code: str) -> tuple[Any, ...]:
    """``A.2`` before ``A.10``."""
    return tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", code))
