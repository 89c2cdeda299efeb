"""The disk that holds the run logs is full: the run is failed, by name, never left running.

The job's ~/.ctrlops/jobs/<uid>/runs is a 1 MiB tmpfs of its own, filled to the last byte by
root, so the rest of the server (and every other test) keeps its space. The server, the S3
and rclone are real; the user's view is read through the control plane and its CLI.
"""

from __future__ import annotations

import os
import pwd
import random
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ctrlops.runner import layout
from ctrlops.services import jobs
from tests.support.cli import ctrlops_json
from tests.support.jobs import Bed, add_job, chown, run

pytestmark = pytest.mark.root


def runs_dir(bed: Bed, name: str) -> Path:
    return bed.sshd.home / layout.job_dir(jobs.get(name).uid) / "runs"


@pytest.fixture
def small_disk(bed: Bed) -> Iterator[Callable[[str], Path]]:
    """Mount a 1 MiB tmpfs, owned by the server's user, over a job's runs/ (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted: list[Path] = []

    def mount(name: str) -> Path:
        runs = runs_dir(bed, name)
        runs.mkdir(parents=True, exist_ok=True)
        pw = pwd.getpwnam(bed.sshd.user)
        opts = f"size=1m,mode=0700,uid={pw.pw_uid},gid={pw.pw_gid}"
        if subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(runs)]).returncode:
            pytest.skip("cannot mount tmpfs here")
        mounted.append(runs)
        return runs

    yield mount
    for runs in mounted:
        subprocess.run(["umount", "-l", str(runs)], check=False)


def fill(folder: Path, name: str = "filler") -> Path:
    """Write into ``folder`` until its filesystem has no byte left; return the filler."""
    filler = folder / name
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(b"x" * 4096)
        except OSError:
            pass
    return filler


def record(runs: Path, run_id: str) -> dict[str, str]:
    """The run's status file as the runner left it on the server."""
    text = (runs / run_id / "status").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def assert_disk_full(last: dict[str, Any], runs: Path) -> None:
    assert last["state"] == "failed", last
    diagnosis = last["diagnosis"]
    assert diagnosis["category"] == "local_resource", diagnosis
    assert str(runs) in diagnosis["cause"] and "full" in diagnosis["cause"], diagnosis
    assert "free space" in diagnosis["fix"] and "server check" in diagnosis["fix"], diagnosis


def test_a_run_on_a_full_log_disk_is_failed_as_local_resource_not_run_blind(
    bed: Bed, small_disk: Callable[[str], Path]
) -> None:
    src = bed.tree()
    (src / "a.txt").write_text("alpha\n")
    chown(src, bed.sshd.user)
    add_job(bed, "full", [src])
    runs = small_disk("full")
    first = run(jobs.run_now("full", wait=True, timeout=60))
    assert first["state"] == "success", first
    # The run kept a reserve on that disk: room for the next records when it fills up.
    assert (runs / ".reserve").stat().st_size == 64 * 1024

    filler = fill(runs)
    (src / "b.txt").write_text("beta\n")
    chown(src, bed.sshd.user)
    code, out = ctrlops_json("job", "run", "full", "--wait")
    assert code == 1, out
    assert_disk_full(out, runs)
    assert record(runs, out["id"])["reason"] == f"disk_full:{runs}"
    assert not (runs / ".reserve").exists()  # spent on the record
    # No rclone ran without room for its log: b.txt waits for a run that can vouch for it.
    assert sorted(bed.objects(f"current{src}")) == ["a.txt"]

    # Whatever fills the disk takes the space the reserve gave back too: now not one byte
    # of a record fits, yet the user sees the same (the runner names the outcome with an
    # empty file, which needs no space).
    code, status = ctrlops_json("job", "status", "full")
    assert code == 1, status
    more = fill(runs, "more")
    code, out = ctrlops_json("job", "run", "full", "--wait")
    assert code == 1, out
    assert (runs / out["id"] / "status").read_text() == ""
    assert_disk_full(out, runs)
    code, status = ctrlops_json("job", "status", "full")
    assert status["last_run"]["id"] == out["id"]
    assert_disk_full(status["last_run"], runs)

    # Space is back: the next run backs up, and makes a new reserve.
    filler.unlink()
    more.unlink()
    last = run(jobs.run_now("full", wait=True, timeout=60))
    assert last["state"] == "success", last
    assert sorted(bed.objects(f"current{src}")) == ["a.txt", "b.txt"]
    assert (runs / ".reserve").stat().st_size == 64 * 1024


def test_a_log_disk_filling_up_mid_run_fails_the_run_instead_of_a_blind_success(
    bed: Bed, small_disk: Callable[[str], Path]
) -> None:
    src = bed.tree()
    payload = random.randbytes(2 * 1024 * 1024)
    (src / "big.bin").write_bytes(payload)
    chown(src, bed.sshd.user)
    add_job(bed, "fills", [src], bwlimit="512k")
    runs = small_disk("fills")
    started = run(jobs.run_now("fills"))
    assert started["state"] == "running", started
    log = runs / started["id"] / "rclone.log"
    deadline = time.monotonic() + 20
    while '"stats"' not in log.read_text(errors="replace"):  # rclone is copying
        assert time.monotonic() < deadline, log.read_text(errors="replace")
        time.sleep(0.2)
    fill(runs)
    deadline = time.monotonic() + 45
    while (last := run(jobs.status("fills"))["last_run"])["state"] == "running":
        assert time.monotonic() < deadline, last
        time.sleep(0.5)
    # rclone copied the file and exited 0 with a log that lost its end: no proof, no success.
    assert bed.objects(f"current{src}") == {"big.bin": payload}
    assert_disk_full(last, runs)
    assert record(runs, last["id"])["reason"] == f"disk_full:{runs}"
    code, status = ctrlops_json("job", "status", "fills")
    assert code == 1, status
    assert_disk_full(status["last_run"], runs)
