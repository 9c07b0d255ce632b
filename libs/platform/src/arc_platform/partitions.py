"""Partitioning by student, so that projections scale out while one student's events stay in
order.

Events about one student (evidence, mastery) are published on ``<subject>.p<k>``, where
``k = crc32(student_id) mod ARC_PARTITIONS``. The partition count is fixed for the life of a
deployment (changing it means rebuilding the projections). A consumer replica owns a set of
partitions; a lease in NATS KV makes sure that each partition is consumed by exactly one
replica at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence

from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError
from nats.js.kv import KeyValue

from arc_contracts import stream_subjects
from arc_contracts.base import partition_of
from arc_platform.runner import Loop

log = logging.getLogger(__name__)
LEASE_BUCKET = "arc_partition_leases"

#: Default partition count: enough to spread over a handful of replicas, small enough that a
#: single process can own them all.
DEFAULT_PARTITIONS = 4


def partition_token(partition: int) -> str:
    return f"p{partition}"


def partition_filter(context: str, partition: int) -> str:
    """Every partitioned event of ``context`` in one partition: ``arc.evidence.v1.*.p3``."""
    base = stream_subjects(context).removesuffix(".>")
    return f"{base}.*.*.{partition_token(partition)}"


def partition_position_key(stream: str, partition: int) -> str:
    return f"{stream}.{partition_token(partition)}"


__all__ = [
    "PartitionBalancer",
    "PartitionLease",
    "leased",
    "leased_partitions",
    "partition_loops",
    "partition_of",
]


def holder_id() -> str:
    """Who holds a lease: host, process and a random part (a restarted process is new)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class PartitionLease:
    """At most one holder per (consumer group, partition), through a NATS KV key that expires
    ``ttl`` seconds after its last renewal. Losing a renewal race means another replica took it.

    Exactly-once does not rest on the lease alone: positions are compare-and-set in the
    consumer's own store, so a replica that lost its lease mid-batch cannot commit that batch.
    """

    def __init__(
        self, js: JetStreamContext, group: str, partition: int, holder: str, ttl: float = 6.0
    ) -> None:
        self.js = js
        self.key = f"{group}.{partition_token(partition)}"
        self.holder = holder.encode()
        self.ttl = ttl
        self.revision: int | None = None
        self._kv: KeyValue | None = None

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self.js.create_key_value(
                config=KeyValueConfig(bucket=LEASE_BUCKET, ttl=self.ttl, history=1)
            )
        return self._kv

    async def acquire(self) -> bool:
        kv = await self._bucket()
        try:
            self.revision = await kv.create(self.key, self.holder)
        except KeyWrongLastSequenceError:
            return await self._take_over_if_released(kv)
        return True

    async def _take_over_if_released(self, kv: KeyValue) -> bool:
        try:
            entry = await kv.get(self.key)
        except KeyNotFoundError:  # deleted or purged since: try again next round
            return False
        if entry.value == self.holder:
            self.revision = entry.revision
            return True
        return False

    async def renew(self) -> bool:
        kv = await self._bucket()
        try:
            self.revision = await kv.update(self.key, self.holder, last=self.revision)
        except (KeyWrongLastSequenceError, KeyNotFoundError):
            self.revision = None
            return False
        return True

    async def release(self) -> None:
        if self.revision is None:
            return
        kv = await self._bucket()
        with contextlib.suppress(KeyWrongLastSequenceError, KeyNotFoundError):
            await kv.delete(self.key, last=self.revision)
        self.revision = None


def leased(lease: PartitionLease, loop: Loop) -> Loop:
    """Run ``loop`` only while holding ``lease``; stop it when the lease is lost, and try to
    take the lease again."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            if not await _try(lease.acquire):
                await _sleep_or_stop(stop, lease.ttl / 2)
                continue
            log.info("holding lease %s", lease.key)
            inner = asyncio.Event()
            task = asyncio.create_task(loop(inner))
            while not stop.is_set():
                await _sleep_or_stop(stop, lease.ttl / 3)
                if not stop.is_set() and not await _try(lease.renew):
                    log.warning("lost lease %s; stopping its consumer", lease.key)
                    break
            inner.set()
            await task
        await _try(lease.release)

    return run


async def _try(action: Callable[[], Awaitable[object]]) -> bool:
    try:
        result = await action()
    except Exception as exc:  # NATS unavailable: treat as not holding
        log.warning("lease operation failed: %s", exc)
        return False
    return bool(result)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def together(loops: Sequence[Loop]) -> Loop:
    """Several loops as one (they start and stop together)."""

    async def run(stop: asyncio.Event) -> None:
        await asyncio.gather(*(loop(stop) for loop in loops))

    return run


class PartitionBalancer:
    """Shares a group's partitions among its live replicas, so that replicas can be added or
    removed at any time (an autoscaler may do it): each replica announces itself with a
    member key (expiring like the leases), aims for ``ceil(partitions / replicas)`` partitions,
    releases its surplus (stopping those consumers first) and takes free ones. Partitions are
    consumed only under their lease, so never by two replicas at once."""

    def __init__(
        self,
        js: JetStreamContext,
        group: str,
        partitions: int,
        loops_of: Callable[[int], Sequence[Loop]],
        ttl: float = 6.0,
    ) -> None:
        self.js = js
        self.group = group
        self.partitions = partitions
        self.loops_of = loops_of
        self.ttl = ttl
        self.holder = holder_id()
        self.member_key = f"{group}.members.{_key_safe(self.holder)}"
        self.held: dict[int, tuple[PartitionLease, asyncio.Event, asyncio.Task[None]]] = {}

    def preference(self) -> list[int]:
        """Start at a replica-specific partition, so that replicas starting together spread."""
        start = partition_of(self.holder, self.partitions)
        return [(start + step) % self.partitions for step in range(self.partitions)]

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.rebalance()
            except Exception:  # NATS briefly unavailable: held leases expire on their own
                log.exception("rebalancing %s failed", self.group)
            await _sleep_or_stop(stop, self.ttl / 3)
        for partition in list(self.held):
            await self._let_go(partition)
        with contextlib.suppress(Exception):
            kv = await self._bucket()
            await kv.delete(self.member_key)

    async def _bucket(self) -> KeyValue:
        return await self.js.create_key_value(
            config=KeyValueConfig(bucket=LEASE_BUCKET, ttl=self.ttl, history=1)
        )

    async def members(self) -> int:
        kv = await self._bucket()
        try:
            keys = await kv.keys()
        except NoKeysError:
            return 1
        prefix = f"{self.group}.members."
        return max(1, sum(1 for key in keys if key.startswith(prefix)))

    async def rebalance(self) -> None:
        kv = await self._bucket()
        await kv.put(self.member_key, self.holder.encode())
        target = -(-self.partitions // await self.members())  # ceil
        for partition, (lease, _inner, task) in list(self.held.items()):
            if task.done() or not await _try(lease.renew):
                log.warning("lost lease %s; stopping its consumers", lease.key)
                await self._let_go(partition)
        while len(self.held) > target:
            await self._let_go(max(self.held))
        for partition in self.preference():
            if len(self.held) >= target:
                break
            if partition in self.held:
                continue
            lease = PartitionLease(self.js, self.group, partition, self.holder, self.ttl)
            if await _try(lease.acquire):
                inner = asyncio.Event()
                task = asyncio.create_task(together(self.loops_of(partition))(inner))
                self.held[partition] = (lease, inner, task)
                log.info("holding lease %s", lease.key)

    async def _let_go(self, partition: int) -> None:
        """Stop the partition's consumers, then give its lease back."""
        lease, inner, task = self.held.pop(partition)
        inner.set()
        with contextlib.suppress(Exception):
            await task
        await _try(lease.release)


def _key_safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)


def partition_loops(
    js: JetStreamContext,
    group: str,
    partitions: int,
    pinned: Sequence[int] | None,
    loops_of: Callable[[int], Sequence[Loop]],
) -> list[Loop]:
    """The partition consumers of a replica: pinned partitions (each under its lease), or a
    share balanced among the live replicas."""
    if pinned:
        return leased_partitions(js, group, pinned, loops_of)
    return [PartitionBalancer(js, group, partitions, loops_of).run]


def leased_partitions(
    js: JetStreamContext,
    group: str,
    owned: Sequence[int],
    loops_of: Callable[[int], Sequence[Loop]],
) -> list[Loop]:
    """For each partition this replica owns, its loops, run only while holding the lease
    ``<group>.p<k>``."""
    holder = holder_id()
    return [
        leased(PartitionLease(js, group, partition, holder), together(loops_of(partition)))
        for partition in owned
    ]
