"""Calculation policies per network, course and outcome; resolving the one that applies."""

from __future__ import annotations

from dataclasses import replace

from arc_catalog.core import CatalogCore, Saved, Versioned, checked
from arc_catalog.domain.errors import NotFound
from arc_catalog.domain.policies import (
    EffectivePolicy,
    Policy,
    policy_id,
    policy_problems,
    resolve_policy,
)
from arc_catalog.domain.records import PolicyRecord, to_primitive


class PolicyCases(CatalogCore):
    def set_policy(self, policy: Policy, traceparent: str = "") -> Saved:
        """Set (or change) the policy of a scope. A change is an event that projections react
        to; the previous revision stays in the history."""
        policy = replace(policy, scope_id=(policy.scope_id or "").strip() or None, retired=False)
        problems = policy_problems(policy)
        with self.writing():
            if policy.scope in ("course", "outcome") and policy.scope_id and not problems:
                problems += self.check_known(policy.scope, {"scope_id": policy.scope_id})
            checked(problems)
            key = policy_id(policy.scope, policy.scope_id)
            return self.saved(self.put(PolicyRecord, key, policy, traceparent))

    def retire_policy(self, scope: str, scope_id: str | None, traceparent: str = "") -> Saved:
        """Remove an override: the course or outcome follows the wider policy again."""
        with self.writing():
            record = self.require(PolicyRecord, policy_id(scope, scope_id), field="scope_id")
            record.record(
                to_primitive(replace(record.state, retired=True)), traceparent, self.actor()
            )
            return self.saved(record)

    def get_policy(self, key: str, revision: int | None = None) -> Versioned[Policy]:
        return self.versioned(self.require(PolicyRecord, key, revision, field="policy_id"))

    def list_policies(self, scope: str | None = None) -> list[Versioned[Policy]]:
        return self.listed(Policy, "policy", scope=scope, status="live")

    def effective_policy(
        self, course_id: str | None = None, outcome_id: str | None = None
    ) -> EffectivePolicy:
        for kind, key in (("course", course_id), ("outcome", outcome_id)):
            if key and not self.exists(kind, key):
                raise NotFound(kind, key)
        return resolve_policy(
            self._policy("network", None),
            self._policy("course", course_id) if course_id else None,
            self._policy("outcome", outcome_id) if outcome_id else None,
        )

    def _policy(self, scope: str, scope_id: str | None) -> Policy | None:
        record = self.load(PolicyRecord, policy_id(scope, scope_id))
        return record.state if record else None
