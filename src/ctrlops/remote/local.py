"""This machine, behind the same interface as an SSH server (``server add --local``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence

from ctrlops.remote.base import Result


class LocalRemote:
    """Runs argv with ``exec`` (no shell) as the current user."""

    def __init__(self, name: str = "local") -> None:
        self.name = name

    async def run(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float
    ) -> Result:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # so a timeout can stop the whole process group
            cwd=os.path.expanduser("~"),
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
        except (TimeoutError, asyncio.CancelledError):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise
        return Result(
            tuple(argv),
            proc.returncode if proc.returncode is not None else -1,
            out.decode("utf-8", "replace"),
            err.decode("utf-8", "replace"),
        )

    async def close(self) -> None:
        return None
