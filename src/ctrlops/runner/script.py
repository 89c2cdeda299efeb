"""The runner script ``ctrlops-run`` as shipped in the package, and its version."""

from __future__ import annotations

import re
from importlib import resources

# Bump together with line 2 of ctrlops-run whenever the script changes: the control plane
# compares it with the installed copy's line 2 to tell an outdated runner.
RUNNER_VERSION = 6

NAME = "ctrlops-run"

_VERSION_LINE = re.compile(rb"# ctrlops-run version ([0-9]+)")


def load() -> bytes:
    """Return the bytes of the packaged ``ctrlops-run`` script."""
    return resources.files("ctrlops.runner").joinpath(NAME).read_bytes()


def version_of(text: str | bytes) -> int | None:
    """Return the runner version stated on line 2 of ``text``, or None when it has none.

    ``text`` is the whole script or just its head (e.g. ``head -n 2`` on a server).
    """
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    lines = data.split(b"\n", 2)
    if len(lines) < 2 or not lines[0].startswith(b"#!"):
        return None
    found = _VERSION_LINE.fullmatch(lines[1].rstrip(b"\r"))
    return int(found.group(1)) if found else None
