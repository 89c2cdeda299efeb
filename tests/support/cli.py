"""Run the real ``ctrlops`` console script, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

CTRLOPS = str(Path(sys.executable).parent / "ctrlops")


def ctrlops(
    *args: str,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``ctrlops ARGS`` with the test's CTRLOPS_HOME; never raises on exit status."""
    return subprocess.run(
        [CTRLOPS, *args],
        input=input,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=timeout,
        cwd=cwd,
    )


def ctrlops_json(*args: str, **kwargs: Any) -> tuple[int, Any]:
    """Run with ``--json``; return (exit status, parsed stdout)."""
    r = ctrlops(*args, "--json", **kwargs)
    try:
        return r.returncode, json.loads(r.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"not JSON (exit {r.returncode}): {r.stdout!r} {r.stderr!r}") from None
