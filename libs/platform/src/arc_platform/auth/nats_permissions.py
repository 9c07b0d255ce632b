"""NATS users and their permissions: each service publishes only its own subjects and reads only
the streams it consumes; an integrator reads mastery events only.

One account (``ARC``, with JetStream) holds every user, so the streams are shared. Consuming a
stream means asking the JetStream API for a consumer on it, so "subscribe to what it consumes"
is expressed as permission to publish the API requests for those streams, plus a subscription to
the user's own inbox, ``_INBOX_<user>.>`` (``arc_platform.bus.connect`` uses that prefix).

    python -m arc_platform.auth.nats_permissions deploy > deploy/nats/permissions.conf

The deployment file reads each password from an environment variable
(``$NATS_<USER>_PASSWORD``); the embedded nats-server (``arc_platform.devstack.NatsServer``)
gets a file with random passwords instead.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from arc_contracts import stream_name
from arc_contracts.registry import CONTEXTS
from arc_platform.auth.policy import INTEGRATOR_CONTEXTS
from arc_platform.partitions import LEASE_BUCKET

ACCOUNT = "ARC"
API = "$JS.API"
KV_STREAM = f"KV_{LEASE_BUCKET}"


@dataclass(frozen=True)
class NatsUser:
    """What one NATS user may do. ``publishes``: the context whose subjects it publishes;
    ``consumes``: the contexts whose streams it reads; ``lease_groups``: its partition leases
    (keys ``<group>.p<k>`` in the lease bucket)."""

    name: str
    publishes: str | None = None
    consumes: tuple[str, ...] = ()
    lease_groups: tuple[str, ...] = ()
    #: Services create missing streams at start-up (and update their own).
    manages_streams: bool = False
    #: Find streams by subject (clients that subscribe without naming the stream).
    finds_streams: bool = False
    #: Durable consumers with acknowledgements (integrators), beside ordered consumers.
    acknowledges: bool = False
    everything: bool = False

    def publish_allow(self) -> list[str]:
        if self.everything:
            return [">"]
        allow = [f"{API}.INFO"]
        if self.publishes:
            allow.append(f"arc.{self.publishes}.>")
        if self.manages_streams:
            for context in CONTEXTS:
                allow += [f"{API}.STREAM.INFO.{stream_name(context)}"]
                allow += [f"{API}.STREAM.CREATE.{stream_name(context)}"]
            if self.publishes:
                allow.append(f"{API}.STREAM.UPDATE.{stream_name(self.publishes)}")
        if self.finds_streams:
            allow.append(f"{API}.STREAM.NAMES")
        for context in self.consumes:
            allow += _reading(stream_name(context), self.manages_streams, self.acknowledges)
        if self.consumes:
            allow.append("$JS.FC.>")  # flow-control replies of ordered consumers
        groups = self.all_lease_groups()
        if groups:
            allow += [f"{API}.STREAM.INFO.{KV_STREAM}", f"{API}.STREAM.CREATE.{KV_STREAM}"]
            allow += [f"{API}.STREAM.MSG.GET.{KV_STREAM}"]
            # Listing the bucket's keys (the partition balancer counts live members).
            allow += [
                f"{API}.CONSUMER.CREATE.{KV_STREAM}",
                f"{API}.CONSUMER.CREATE.{KV_STREAM}.>",
                f"{API}.CONSUMER.INFO.{KV_STREAM}.*",
                f"{API}.CONSUMER.DELETE.{KV_STREAM}.*",
                "$JS.FC.>",
            ]
            for group in groups:
                allow.append(f"$KV.{LEASE_BUCKET}.{group}.>")
                allow.append(f"{API}.DIRECT.GET.{KV_STREAM}.$KV.{LEASE_BUCKET}.{group}.>")
        return _unique(allow)

    def all_lease_groups(self) -> tuple[str, ...]:
        """Its own groups, plus ``relay-<user>`` for a publisher: one relay per service runs at a
        time, under that lease (``arc_platform.cli.make_relay``)."""
        relay = (f"relay-{self.name}",) if self.publishes else ()
        return (*self.lease_groups, *relay)

    def subscribe_allow(self) -> list[str]:
        return [">"] if self.everything else [f"_INBOX_{self.name}.>"]


def _reading(stream: str, has_info: bool, acknowledges: bool) -> list[str]:
    """The JetStream API requests of a tracked consumer of ``stream`` (an ephemeral pull
    consumer) or an ordered push consumer (and, ``acknowledges``, of durable consumers that
    pull and acknowledge)."""
    allow = [] if has_info else [f"{API}.STREAM.INFO.{stream}"]
    allow += [
        f"{API}.CONSUMER.CREATE.{stream}",
        f"{API}.CONSUMER.CREATE.{stream}.>",
        f"{API}.CONSUMER.INFO.{stream}.*",
        f"{API}.CONSUMER.DELETE.{stream}.*",
        f"{API}.CONSUMER.MSG.NEXT.{stream}.*",
        f"{API}.STREAM.MSG.GET.{stream}",
        f"{API}.DIRECT.GET.{stream}",
        f"{API}.DIRECT.GET.{stream}.>",
    ]
    if acknowledges:
        allow += [
            f"{API}.CONSUMER.DURABLE.CREATE.{stream}.*",
            f"$JS.ACK.{stream}.>",
        ]
    return allow


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


#: The one table of who may do what on NATS. A service that starts consuming a stream, or takes
#: a lease in a new group, is added here (and ``deploy/nats/permissions.conf`` regenerated).
USERS: tuple[NatsUser, ...] = (
    NatsUser("catalog", publishes="catalog", manages_streams=True),
    NatsUser("evidence", publishes="evidence", consumes=("catalog",), manages_streams=True),
    NatsUser(
        "mastery",
        publishes="mastery",
        consumes=("catalog", "evidence"),
        lease_groups=("mastery",),
        manages_streams=True,
    ),
    NatsUser(
        "reporting",
        publishes="reporting",
        consumes=("catalog", "evidence", "mastery"),
        lease_groups=("reporting", "reporting-catalog", "reporting-warnings"),
        manages_streams=True,
    ),
    NatsUser(
        "integrator",
        consumes=tuple(sorted(INTEGRATOR_CONTEXTS)),
        finds_streams=True,
        acknowledges=True,
    ),
    NatsUser("auditor", consumes=tuple(CONTEXTS), finds_streams=True),
    NatsUser("admin", everything=True),
)
BY_NAME = {user.name: user for user in USERS}


def random_passwords() -> dict[str, str]:
    return {user.name: secrets.token_urlsafe(24) for user in USERS}


def password_variable(user: str) -> str:
    return f"NATS_{user.upper()}_PASSWORD"


def render(passwords: Mapping[str, str] | None = None) -> str:
    """A nats-server configuration block (``accounts``); with ``passwords``, literal passwords
    (embedded server), else ``$NATS_<USER>_PASSWORD`` variables (deployment)."""
    lines = [
        "# Generated by `python -m arc_platform.auth.nats_permissions deploy`: do not edit.",
        "# Each Mastery Arc service publishes only its own subjects and reads only the streams",
        "# it consumes; see libs/platform/src/arc_platform/auth/nats_permissions.py.",
    ]
    if not passwords:
        lines += [
            "# Use: `include ./permissions.conf` in the server's configuration. Passwords come",
            "# from NATS_<USER>_PASSWORD (a secret; a bcrypt hash `$2a$...` works too), and each",
            "# service connects with ARC_NATS_URL=nats://<user>:<password>@<host>:4222.",
        ]
    lines += [
        "accounts {",
        f"  {ACCOUNT} {{",
        "    jetstream: enabled",
        "    users: [",
    ]
    for user in USERS:
        secret = (
            json.dumps(passwords[user.name]) if passwords else f"${password_variable(user.name)}"
        )
        lines += [
            f"      {{ user: {user.name}, password: {secret}, permissions: {{",
            f"          publish: {{ allow: {_list(user.publish_allow())} }}",
            f"          subscribe: {{ allow: {_list(user.subscribe_allow())} }}",
            "      } }",
        ]
    lines += ["    ]", "  }", "}", ""]
    return "\n".join(lines)


def _list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["deploy"]:
        print("usage: python -m arc_platform.auth.nats_permissions deploy", file=sys.stderr)
        return 2
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
