"""The NATS permission table, read as rules (the integration tests check the server enforces
them)."""

from __future__ import annotations

import pytest

from arc_platform.auth.nats_permissions import BY_NAME, USERS, render

SERVICES = ("catalog", "evidence", "mastery", "reporting")


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_publishes_its_own_subjects_and_updates_only_its_own_stream(
    service: str,
) -> None:
    allowed = BY_NAME[service].publish_allow()
    assert [s for s in allowed if s.startswith("arc.")] == [f"arc.{service}.>"]
    updates = [s for s in allowed if ".STREAM.UPDATE." in s]
    assert updates == [f"$JS.API.STREAM.UPDATE.ARC_{service.upper()}"]
    assert not [s for s in allowed if "DELETE" in s and "CONSUMER" not in s]  # no stream deletes
    assert not [s for s in allowed if "PURGE" in s]


def test_each_user_reads_its_own_inbox_only_and_only_admin_has_wildcards() -> None:
    for user in USERS:
        if user.name == "admin":
            assert user.publish_allow() == user.subscribe_allow() == [">"]
            continue
        assert user.subscribe_allow() == [f"_INBOX_{user.name}.>"]
        assert ">" not in user.publish_allow()
        assert not any(
            s.startswith(("$JS.API.>", "$JS.API.*", "arc.>")) for s in user.publish_allow()
        )


def test_leases_are_scoped_to_the_services_own_groups() -> None:
    mastery = BY_NAME["mastery"].publish_allow()
    assert [s for s in mastery if s.startswith("$KV.")] == [
        "$KV.arc_partition_leases.mastery.>",  # its partitions
        "$KV.arc_partition_leases.relay-mastery.>",  # its one running relay
    ]
    catalog = BY_NAME["catalog"].publish_allow()
    assert [s for s in catalog if s.startswith("$KV.")] == [
        "$KV.arc_partition_leases.relay-catalog.>"
    ]
    assert not [s for s in BY_NAME["integrator"].publish_allow() if "KV" in s]


def test_the_integrator_only_reads_published_events_for_integrators() -> None:
    allowed = BY_NAME["integrator"].publish_allow()
    assert not [s for s in allowed if s.startswith(("arc.", "$KV."))]
    streams = {s.rsplit(".", 1)[-1] for s in allowed if ".CONSUMER.CREATE." in s and "." in s}
    assert streams <= {"ARC_MASTERY", "ARC_REPORTING", ">"}


def test_embedded_passwords_are_quoted_and_deployment_reads_variables() -> None:
    embedded = render({user.name: f'p"w-{user.name}' for user in USERS})
    assert 'password: "p\\"w-mastery"' in embedded
    assert "password: $NATS_MASTERY_PASSWORD" in render()
