"""Where ctrlops keeps its data on the control machine."""

from __future__ import annotations

import os
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
