"""Generate the AsyncAPI 3.0 document of every published event, with faststream.

    python -m arc_platform.asyncapi > docs/asyncapi.json   (or: make asyncapi)

Each contract class becomes a channel on its subject; its pydantic schema becomes the payload.
"""

from __future__ import annotations

import inspect
import json
import sys

from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI

from arc_contracts.registry import ALL_EVENTS

DESCRIPTION = (
    "Events published by Mastery Arc on NATS JetStream. Subjects follow "
    "arc.<context>.v<version>.<event>; each message carries CloudEvents 1.0 attributes in "
    "headers (ce-id, ce-source, ce-type, ce-time, ce-specversion), the same id as Nats-Msg-Id, "
    "and a W3C traceparent. A changed event is a new version, never an edit."
)


def document() -> dict[str, object]:
    broker = NatsBroker()
    for contract in ALL_EVENTS:
        broker.publisher(
            contract.subject(),
            schema=contract,
            title=contract.event_type(),
            description=inspect.cleandoc(contract.__doc__ or ""),
        )
    spec = AsyncAPI(
        broker,
        title="Mastery Arc events",
        version="1.0.0",
        description=DESCRIPTION,
        schema_version="3.0.0",
    )
    result: dict[str, object] = json.loads(spec.to_specification().to_json())
    return result


def main() -> None:
    json.dump(document(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
