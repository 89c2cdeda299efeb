"""The one path every remote command goes through.

A timeout is always set, secrets are masked in what is logged and in errors, and a
failure is always one :class:`RemoteCommandError`.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Iterable, Sequence

from ctrlops.errors import RemoteCommandError
from ctrlops.remote.base import Remote, Result

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
MASK = "********"


def mask(text: str, secrets: Iterable[str]) -> str:
    """Return ``text`` with every non-empty secret replaced by a fixed mask."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


async def execute(
    remote: Remote,
    argv: Sequence[str],
    *,
    stdin: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = True,
    secrets: Iterable[str] = (),
    fix: str = "",
) -> Result:
    """Run ``argv`` on ``remote`` and return its :class:`Result`.

    Raises :class:`RemoteCommandError` when the command times out, or exits non-zero and
    ``check`` is true; ``ConnectionFailed`` when the server cannot be reached.
    """
    secrets = tuple(secrets)
    shown = mask(shlex.join(argv), secrets)
    if len(shown) > 200:
        shown = shown[:200] + "..."
    log.debug("%s: %s", remote.name, shown)
    try:
        result = await remote.run(argv, stdin=stdin, timeout=timeout)
    except TimeoutError:
        raise RemoteCommandError(
            remote.name, shown, None, f"no answer within {timeout:g} s", fix=fix
        ) from None
    if check and not result.ok:
        raise RemoteCommandError(
            remote.name, shown, result.exit_status, mask(result.stderr, secrets), fix=fix
        )
    return result


# Writes stdin to a temporary file beside the target and renames it into place, so a
# reader (cron, the runner) sees the old file or the new one, never half of one.
_WRITE_SCRIPT = r"""
set -eu
target=$1 mode=$2
case $target in "~/"*) target=$HOME/${target#"~/"} ;; esac
dir=$(dirname -- "$target")
# Directories ctrlops creates are private (0700): some hold credentials.
(umask 077 && mkdir -p -- "$dir")
tmp=$(mktemp "$dir/.ctrlops-tmp.XXXXXX")
trap 'rm -f -- "$tmp"' EXIT
chmod "$mode" "$tmp"
cat > "$tmp"
mv -f -- "$tmp" "$target"
trap - EXIT
"""


async def write_file(
    remote: Remote, path: str, data: bytes, *, mode: int = 0o600, timeout: float = 60.0
) -> None:
    """Atomically write ``data`` to ``path`` on ``remote`` with permission ``mode``.

    ``path`` may start with ``~/`` (the remote user's home). Raises
    :class:`RemoteCommandError` when the write fails.
    """
    argv = ["sh", "-c", _WRITE_SCRIPT, "ctrlops-write", path, f"{mode:o}"]
    await execute(remote, argv, stdin=data, timeout=timeout)
