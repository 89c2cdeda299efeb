"""The persistent "backup shell": one long-lived connection per server, shared by every
operation on it in this process, with keepalives and reconnect.

When a connection drops, its state becomes ``disconnected`` (the "Backup Shell
Disconnected" banner) until :meth:`Pool.reconnect` or the next operation restores it.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from ctrlops.remote.base import Remote

Opener = Callable[[], Awaitable[Remote]]


@dataclass
class ShellState:
    state: str = "never"  # "never" | "connected" | "disconnected"
    since: datetime | None = None
    reason: str = ""


def _is_connected(remote: Remote) -> bool:
    return bool(getattr(remote, "connected", True))


class Pool:
    """Connections per event loop (an asyncssh connection and a lock belong to the loop
    that made them: the web server's loop and a test's or a thread's ``asyncio.run`` must
    never share one); the shell state a user sees is per server."""

    def __init__(self) -> None:
        self._loops: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[dict[str, Remote], dict[str, asyncio.Lock]]
        ] = weakref.WeakKeyDictionary()
        self._states: dict[str, ShellState] = {}

    def _here(self) -> tuple[dict[str, Remote], dict[str, asyncio.Lock]]:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside a loop (state()): nothing of a loop to see
            return {}, {}
        return self._loops.setdefault(loop, ({}, {}))

    @property
    def _remotes(self) -> dict[str, Remote]:
        return self._here()[0]

    @property
    def _locks(self) -> dict[str, asyncio.Lock]:
        return self._here()[1]

    def state(self, key: str) -> ShellState:
        """Return the backup shell's state for ``key``, noticing a silent drop."""
        st = self._states.setdefault(key, ShellState())
        remote = self._remotes.get(key)
        if st.state == "connected" and remote is not None and not _is_connected(remote):
            self.mark_lost(key, "the connection closed")
        return st

    def mark_lost(self, key: str, reason: str) -> None:
        st = self._states.setdefault(key, ShellState())
        if st.state != "disconnected":
            st.state, st.since, st.reason = "disconnected", datetime.now(UTC), reason

    async def get(self, key: str, opener: Opener) -> Remote:
        """Return the live connection for ``key``, opening (or re-opening) it if needed."""
        async with self._locks.setdefault(key, asyncio.Lock()):
            remote = self._remotes.get(key)
            if remote is not None and _is_connected(remote):
                return remote
            remote = await opener()
            self._remotes[key] = remote
            self._states[key] = ShellState("connected", datetime.now(UTC))
            return remote

    async def reconnect(self, key: str, opener: Opener) -> Remote:
        """Drop any connection for ``key`` and open a new one."""
        await self.discard(key)
        return await self.get(key, opener)

    async def discard(self, key: str) -> None:
        remote = self._remotes.pop(key, None)
        if remote is not None:
            with contextlib.suppress(Exception):
                await remote.close()

    async def close_all(self) -> None:
        """Close every connection (and forget locks bound to the ending event loop)."""
        for key in list(self._remotes):
            await self.discard(key)
        self._locks.clear()


# One pool per process: the web server keeps it for its lifetime, a CLI command for its own.
POOL = Pool()
