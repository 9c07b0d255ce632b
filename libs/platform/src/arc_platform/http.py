"""HTTP/JSON APIs (FastAPI) served by uvicorn inside a service's own event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from arc_platform.runner import Loop
from arc_platform.unavailable import install_http_handlers


class EmbeddedHttpServer(uvicorn.Server):
    """uvicorn inside our process: signals belong to the service runner, not to uvicorn."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def http_loop(app: FastAPI, host: str, port: int) -> Loop:
    """A background loop (for ``Wiring.loops``) serving ``app`` until the service stops."""
    install_http_handlers(app)  # the store away: 503 + Retry-After, whatever the route
    # log_config=None: uvicorn's records go to the root logger, i.e. the service's JSON lines.
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", log_config=None)
    server = EmbeddedHttpServer(config)

    async def serve(stop: asyncio.Event) -> None:
        task = asyncio.create_task(server.serve())
        await stop.wait()
        server.should_exit = True
        await task

    return serve
