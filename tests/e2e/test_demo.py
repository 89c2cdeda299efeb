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


def test_the_demo_leaves_no_crontab_line_behind(tmp_path: Path) -> None:
    import subprocess

    before = subprocess.run(["crontab", "-l"], capture_output=True, text=True).stdout
    assert ctrlops("demo", "--no-wait", env={"HOME": str(tmp_path)}, timeout=300).returncode == 0
    after = subprocess.run(["crontab", "-l"], capture_output=True, text=True).stdout
    assert after == before
