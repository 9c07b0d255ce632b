"""NATS connection and the JetStream topology (streams are created and updated explicitly)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

from arc_contracts import stream_name, stream_subjects

log = logging.getLogger(__name__)


def inbox_prefix(url: str) -> str:
    """Replies (PubAcks, JetStream API answers, consumer deliveries) come to ``_INBOX_<user>``
    when the URL names a NATS user, so that each user may subscribe to its own inbox only
    (see ``arc_platform.auth.nats_permissions``); ``_INBOX`` otherwise."""
    user = urlsplit(url.split(",")[0].strip()).username
    return f"_INBOX_{user}" if user else "_INBOX"


async def connect(url: str, name: str) -> Client:
    """Connect with unlimited reconnects: a service outlives a NATS restart. Credentials come
    in the URL (``nats://user:password@host:port``)."""
    return await nats.connect(
        servers=url.split(","),
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        inbox_prefix=inbox_prefix(url),
    )


def stream_config(context: str, duplicate_window_seconds: int, replicas: int) -> StreamConfig:
    return StreamConfig(
        name=stream_name(context),
        subjects=[stream_subjects(context)],
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=float(duplicate_window_seconds),
    )


async def ensure_stream(
    js: JetStreamContext,
    context: str,
    duplicate_window_seconds: int,
    replicas: int = 1,
    *,
    update: bool = True,
) -> None:
    """Create the context's stream, or (``update``) bring an existing one to the wanted
    configuration."""
    config = stream_config(context, duplicate_window_seconds, replicas)
    try:
        await js.stream_info(config.name or "")
    except NotFoundError:
        await js.add_stream(config)
        log.info("created stream %s", config.name)
        return
    if update:
        await js.update_stream(config)


async def last_sequence(js: JetStreamContext, context: str, subjects: str | None = None) -> int:
    """The stream's last sequence, or that of the last message matching ``subjects`` (which
    may hold wildcards: one partition's last event); 0 when there is none."""
    if subjects is None:
        info = await js.stream_info(stream_name(context))
        return int(info.state.last_seq)
    try:
        message = await js.get_last_msg(stream_name(context), subjects)
    except NotFoundError:
        return 0
    return int(message.seq or 0)
