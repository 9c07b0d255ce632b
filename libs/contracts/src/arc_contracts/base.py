"""The shape every published (integration) event shares.

Published events are public promises to integrators. A change to a published event is a new
class with a higher ``version`` (and an upcaster from the old one), never an edit.
"""

from __future__ import annotations

import zlib
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

#: Reverse-DNS prefix of CloudEvents ``type`` values.
TYPE_PREFIX = "org.masteryarc"


class ContractEvent(BaseModel):
    """A versioned integration event, published on ``arc.<context>.v<version>.<name>``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    context: ClassVar[str]
    name: ClassVar[str]
    version: ClassVar[int]

    @classmethod
    def subject(cls) -> str:
        """The NATS subject, by the one convention: ``arc.<context>.v<version>.<name>``."""
        return f"arc.{cls.context}.v{cls.version}.{cls.name}"

    def partition_key(self) -> str | None:
        """Events about one student return the student id: they are published on
        ``<subject>.p<partition>`` so that consumers can scale out per student."""
        return None

    def published_subject(self, partitions: int) -> str:
        key = self.partition_key()
        if key is None:
            return self.subject()
        return f"{self.subject()}.p{partition_of(key, partitions)}"

    @classmethod
    def subscription_subject(cls) -> str:
        """What to subscribe to for every event of this class, whatever its partition."""
        return f"{cls.subject()}.>" if cls.partitioned else cls.subject()

    #: True for classes whose ``partition_key`` is not None.
    partitioned: ClassVar[bool] = False

    @classmethod
    def event_type(cls) -> str:
        """The CloudEvents ``type``: ``org.masteryarc.<context>.<name>.v<version>``."""
        return f"{TYPE_PREFIX}.{cls.context}.{cls.name}.v{cls.version}"


def partition_of(key: str, partitions: int) -> int:
    """The partition of a key (a student id): crc32, stable across processes and versions."""
    return zlib.crc32(key.encode()) % partitions


def stream_name(context: str) -> str:
    """Each bounded context publishes into one JetStream stream, ``ARC_<CONTEXT>``."""
    return f"ARC_{context.upper()}"


def stream_subjects(context: str) -> str:
    return f"arc.{context}.>"
