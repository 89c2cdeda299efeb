"""pytest plugin: every test gets its own empty ctrlops home (store, secret key)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def ctrlops_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ctrlops-home"
    monkeypatch.setenv("CTRLOPS_HOME", str(home))
    monkeypatch.delenv("CTRLOPS_DATABASE_URL", raising=False)
    return home
