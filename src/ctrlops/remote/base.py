"""The one interface every transport implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Result:
    """What a finished command left behind."""

    argv: tuple[str, ...]
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class Remote(Protocol):
    """A server that runs argv vectors.

    ``argv`` is never handed to a shell as one string by the caller: the SSH transport
    quotes every element (the remote login shell only splits it back), the local transport
    execs it directly. Scripts are fixed text run with ``sh -c SCRIPT NAME ARGS...`` so that
    user-supplied values only ever arrive as positional parameters.
    """

    name: str

    async def run(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float
    ) -> Result:
        """Run ``argv``; return its result whatever the exit status.

        Raises ``TimeoutError`` when it has not finished within ``timeout`` seconds (the
        command is stopped) and ``ConnectionFailed`` when the server cannot be reached.
        """
        ...

    async def close(self) -> None: ...
