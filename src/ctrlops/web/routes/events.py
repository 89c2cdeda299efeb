"""Server-sent events: the browser hears which job rows and banners changed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from ctrlops.services.monitor import Monitor

router = APIRouter()

KEEPALIVE = 15.0  # seconds; proxies drop a silent stream
STREAM_FOR = 300.0  # then the browser reconnects (EventSource does): no stream lives forever


def monitor(request: Request) -> Monitor | None:
    found = getattr(request.app.state, "monitor", None)
    return found if isinstance(found, Monitor) else None


def hurry(request: Request, server: str) -> None:
    """Have the monitor sync ``server`` now and often for a while (a user acted on it)."""
    mon = monitor(request)
    if mon is not None:
        mon.hurry(server)


@router.get("/events")
async def events(request: Request) -> Response:
    mon = monitor(request)
    if mon is None:
        return Response(status_code=204)  # EventSource stops retrying on 204

    async def stream() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        until = loop.time() + STREAM_FOR
        with mon.subscribe() as queue:
            yield "retry: 2000\n\n"
            while loop.time() < until:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                yield f"event: {event.kind}\ndata: {json.dumps(event.name)}\n\n"

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
