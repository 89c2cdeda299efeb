"""Where ctrlops keeps its data on the control machine."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import platformdirs


def home() -> Path:
    """Return the data directory (``CTRLOPS_HOME`` or the platform's user data dir), 0700."""
    root = Path(os.environ.get("CTRLOPS_HOME") or platformdirs.user_data_dir("ctrlops"))
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def database_url() -> str:
    """Return ``CTRLOPS_DATABASE_URL`` or the embedded SQLite file under :func:`home`."""
    return os.environ.get("CTRLOPS_DATABASE_URL") or f"sqlite:///{home() / 'ctrlops.db'}"


def private_key(name: str, generate: Callable[[], bytes]) -> bytes:
    """Return the key kept in file ``name`` under :func:`home`, creating it 0600 once.

    O_EXCL: two processes starting at once must not each write (and use) a different key.
    """
    path = home() / name
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    key = generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key
