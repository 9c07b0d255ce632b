"""An integrator's subscriber to mastery changes, resuming from a point in time.

    python examples/mastery_subscriber.py --nats nats://127.0.0.1:4333 --since 2026-10-01T00:00Z

It asks JetStream for every ``arc.mastery.v1.mastery_changed.<partition>`` message stored
since ``--since`` (an ordered consumer with ``deliver_policy=by_start_time``), decodes each with
the published
contract, and remembers the last stream sequence it handled in ``--state`` so that the next run
resumes right after it. ``ce-id`` (also ``Nats-Msg-Id``) identifies a change uniquely: use it to
make your own handling idempotent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import nats
from nats.js.api import ConsumerConfig, DeliverPolicy

from arc_contracts import MasteryChangedV1, decode

SUBJECT = MasteryChangedV1.subscription_subject()  # every partition: ...mastery_changed.>


def _config(since: datetime | None, after_sequence: int | None) -> ConsumerConfig:
    if after_sequence is not None:
        return ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=after_sequence + 1
        )
    if since is not None:
        return ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=since)
    return ConsumerConfig(deliver_policy=DeliverPolicy.ALL)


async def follow(
    nats_url: str,
    handle: Callable[[int, MasteryChangedV1], Awaitable[None]],
    *,
    since: datetime | None = None,
    after_sequence: int | None = None,
    idle_seconds: float = 1.0,
) -> int | None:
    """Deliver changes in order to ``handle(sequence, event)`` until none arrive for
    ``idle_seconds``; return the last sequence handled (to resume after it next time)."""
    # With per-user NATS permissions (production), each user has its own inbox prefix.
    user = urlsplit(nats_url).username
    nc = await nats.connect(nats_url, inbox_prefix=f"_INBOX_{user}" if user else "_INBOX")
    last = after_sequence
    try:
        js = nc.jetstream()
        subscription = await js.subscribe(
            SUBJECT, ordered_consumer=True, config=_config(since, after_sequence)
        )
        while True:
            try:
                msg = await subscription.next_msg(timeout=idle_seconds)
            except nats.errors.TimeoutError:
                return last
            _, event = decode(msg.headers, msg.data)
            assert isinstance(event, MasteryChangedV1)
            await handle(msg.metadata.sequence.stream, event)
            last = msg.metadata.sequence.stream
    finally:
        await nc.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--nats", default="nats://127.0.0.1:4333", help="e.g. nats://integrator:PASSWORD@host:4222"
    )
    parser.add_argument("--since", type=datetime.fromisoformat, help="ISO time with zone")
    parser.add_argument("--state", type=Path, default=Path("mastery-subscriber.json"))
    args = parser.parse_args()
    saved = json.loads(args.state.read_text()) if args.state.exists() else {}

    async def show(sequence: int, event: MasteryChangedV1) -> None:
        print(
            f"#{sequence} {event.changed_at:%Y-%m-%d %H:%M} {event.student_id} {event.outcome_id}: "
            f"{event.before.value} → {event.after.value} ({event.after.status}, {event.cause.kind})"
        )

    last = await follow(
        args.nats, show, since=args.since, after_sequence=saved.get("last_sequence")
    )
    if last is not None:
        args.state.write_text(json.dumps({"last_sequence": last}))


if __name__ == "__main__":
    asyncio.run(main())
