"""`ctrlops demo` (what `make run` starts): a real backup lands with no account anywhere."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import ctrlops


def test_the_demo_backs_up_the_sample_tree_to_the_local_s3(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    first = ctrlops("demo", "--no-wait", env=env, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "Test Connection demo-s3: ok" in first.stdout
    assert "backup demo-backup: success, 3 files copied" in first.stdout
    # Idempotent: a second start reuses everything and finds nothing new to copy.
    second = ctrlops("demo", "--no-wait", env=env, timeout=300)
    assert second.returncode == 0, second.stderr
    assert "backup demo-backup: success, 0 files copied, 3 checked" in second.stdout
