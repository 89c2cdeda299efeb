"""The one exception hierarchy.

Every error a user can see carries a plain-language ``cause`` and a concrete ``fix``;
the CLI prints both and exits with ``exit_code``, the web UI renders them next to the
thing that failed.
"""

from __future__ import annotations


class CtrlopsError(Exception):
    """An operation ran and failed (exit status 1)."""

    exit_code = 1

    def __init__(self, cause: str, fix: str = "", *, category: str = "other") -> None:
        super().__init__(cause)
        self.cause = cause
        self.fix = fix
        self.category = category

    def as_dict(self) -> dict[str, str]:
        return {"category": self.category, "cause": self.cause, "fix": self.fix}


class InputError(CtrlopsError):
    """Bad input (exit status 2): ``field`` names what was wrong, nothing was written."""

    exit_code = 2

    def __init__(self, field: str, reason: str, fix: str = "") -> None:
        super().__init__(f"{field}: {reason}", fix, category="input")
        self.field = field
        self.reason = reason


class NotFoundError(InputError):
    """A name on the command line that the store does not know."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(kind, f"no {kind} named {name!r}", f"see `ctrlops {kind} list`")


class RemoteCommandError(CtrlopsError):
    """A command on a server exited non-zero (or did not finish in time)."""

    def __init__(
        self, host: str, command: str, exit_status: int | None, stderr: str, *, fix: str = ""
    ) -> None:
        status = "timed out" if exit_status is None else f"exited {exit_status}"
        detail = stderr.strip().splitlines()[-1] if stderr.strip() else "no error output"
        super().__init__(f"on {host}: `{command}` {status}: {detail}", fix)
        self.host = host
        self.command = command
        self.exit_status = exit_status
        self.stderr = stderr


class ConnectionFailed(CtrlopsError):
    """A server could not be reached; ``layer`` names where the connection broke."""

    def __init__(self, layer: str, cause: str, fix: str, *, category: str = "connection") -> None:
        super().__init__(cause, fix, category=category)
        self.layer = layer
