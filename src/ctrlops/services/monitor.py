"""Keep the store in step with the fleet while the web UI runs, and say what changed.

Every server is synced (``services.sync``) once a minute, and every two seconds while one
of its jobs is running or a user just acted on it (Run Now, a fix). Pages read the store
only; they learn what changed from the events published here (the web UI streams them to
the browser as server-sent events), so a page never waits on SSH and a fleet of 200
servers costs 200 syncs a minute, not 200 checks per page view.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select

from ctrlops.services import alerts, servers, sync
from ctrlops.store.db import session
from ctrlops.store.models import Job, Run, Server

log = logging.getLogger(__name__)

INTERVAL = 60.0  # seconds between syncs of a quiet server
BUSY_INTERVAL = 2.0  # ... of a server with a running job, or one a user just acted on
HURRY_FOR = 120.0  # how long an action keeps its server on the busy interval
TICK = 0.5
QUEUE_SIZE = 256  # per browser; a stalled browser loses events, never blocks the monitor


@dataclass(frozen=True)
class Event:
    kind: str  # "job" | "server"
    name: str


class Monitor:
    """Syncs due servers in a loop; fans change events out to subscribers."""

    def __init__(self, *, interval: float = INTERVAL, busy_interval: float = BUSY_INTERVAL):
        self.interval = interval
        self.busy_interval = busy_interval
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._last: dict[str, float] = {}
        self._hurry: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._syncing: set[str] = set()

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    def publish(self, kind: str, name: str) -> None:
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(Event(kind, name))

    def hurry(self, server: str) -> None:
        """Sync ``server`` now and then every BUSY_INTERVAL for a while."""
        self._hurry[server] = time.monotonic() + HURRY_FOR
        self._last.pop(server, None)
        self._wake.set()

    def _due(self, now: float) -> list[str]:
        busy = _busy_servers()
        due = []
        for name in (s.name for s in servers.list_all()):
            if name in self._syncing:
                continue
            hurried = self._hurry.get(name, 0) > now
            every = self.busy_interval if hurried or name in busy else self.interval
            if now - self._last.get(name, -1e9) >= every:
                due.append(name)
        return due

    async def sync(self, name: str) -> None:
        """Sync server ``name`` now and publish what changed."""
        self._syncing.add(name)
        try:
            result = (await sync.sync_all([name]))[0]
        finally:
            self._syncing.discard(name)
            self._last[name] = time.monotonic()
        if result.check_changed or result.error:
            self.publish("server", result.server)
        for job in result.changed_jobs:
            self.publish("job", job)
        if alerts.configured():
            # Alerts go out while the web UI runs, without waiting for a cron'd sweep;
            # a run that never started is noticed here too (nothing "changed" for it).
            try:
                await alerts.alert(name, errors={name: result.error} if result.error else None)
            except Exception:  # a channel or the store failed: the next sync tries again
                log.exception("alerting for %s failed", name)

    async def run(self) -> None:
        """Loop until cancelled. Each server syncs in its own task, so an unreachable one
        (waiting out its SSH timeout) never delays a busy one; a failing round is logged
        and retried, never fatal."""
        gate = asyncio.Semaphore(sync.CONCURRENCY)
        tasks: set[asyncio.Task[None]] = set()

        async def one(name: str) -> None:
            async with gate:
                await self.sync(name)

        try:
            while True:
                try:
                    for name in self._due(time.monotonic()):
                        self._syncing.add(name)
                        task = asyncio.create_task(one(name))
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                        task.add_done_callback(_log_failure)
                except Exception:  # the store was busy or broken this round: try again
                    log.exception("monitor round failed")
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), TICK)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("sync failed", exc_info=task.exception())


def _busy_servers() -> set[str]:
    """Servers with a run the store last saw running."""
    with session() as s:
        rows = s.scalars(
            select(Server.name)
            .join(Job, Job.server_id == Server.id)
            .join(Run, Run.job_id == Job.id)
            .where(Run.state == "running")
            .distinct()
        )
        return set(rows)
