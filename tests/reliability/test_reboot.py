"""A server reboot, simulated: schedules keep firing; the run it cut short says so for good.

What a reboot does to the server's user is done for real: every process of the user is
SIGKILLed at once (no trap runs), the user's files in /tmp are gone, and the cron daemon
starts afresh. The kernel (and so the boot id) stays the same; records from another boot
are covered in tests/integration/test_runner_interrupted.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ctrlops.errors import CtrlopsError
from ctrlops.runner import layout
from ctrlops.services import jobs
from ctrlops.store.db import session
from ctrlops.store.models import Run
from tests.support.cli import ctrlops_json
from tests.support.jobs import Bed, add_job, chown, run
from tests.support.sshd import IS_ROOT

CRON = "/usr/sbin/cron"


def pids(*args: str) -> set[int]:
    out = subprocess.run(["pgrep", *args], capture_output=True, text=True, check=False).stdout
    return {int(p) for p in out.split()}


def kill_all(found: Callable[[], set[int]], sig: int, timeout: float = 10) -> None:
    """Signal every process ``found`` names until none is left."""
    deadline = time.monotonic() + timeout
    while left := found():
        assert time.monotonic() < deadline, f"still alive: {left}"
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        time.sleep(0.1)


def start_cron() -> None:
    subprocess.run([CRON], check=True)
    deadline = time.monotonic() + 10
    while not pids("-x", "cron"):
        assert time.monotonic() < deadline, "cron did not start"
        time.sleep(0.1)


@pytest.fixture
def cron() -> Iterator[None]:
    """This machine's cron daemon, running; left running afterwards whatever happened
    (stopped again only when it was not running before the test)."""
    if not IS_ROOT:
        pytest.skip("restarting the cron daemon needs root (CI runs as root)")
    if not Path(CRON).exists() or shutil.which("pgrep") is None:
        pytest.skip("Debian's cron is not installed (apt-get install -y cron)")
    was_running = bool(pids("-x", "cron"))
    if not was_running:
        start_cron()
    try:
        yield
    finally:
        if was_running and not pids("-x", "cron"):
            start_cron()
        elif not was_running:
            kill_all(lambda: pids("-x", "cron"), signal.SIGTERM)


def reboot(user: str) -> datetime:
    """Simulate a reboot of the server for ``user``; return when it was back up."""
    kill_all(lambda: pids("-x", "cron"), signal.SIGTERM)
    # Power off: the runner and rclone die with everything else, no trap gets to run.
    kill_all(lambda: pids("-u", user), signal.SIGKILL)
    # /tmp is emptied at boot (tmpfs, or systemd-tmpfiles).
    subprocess.run(
        ["find", "/tmp", "-xdev", "-mindepth", "1", "-user", user, "-delete"],
        capture_output=True,
        check=False,
    )
    start_cron()
    return datetime.now(UTC).replace(microsecond=0)


def cached_state(run_id: str) -> str | None:
    """The state the control plane's store recorded for ``run_id``."""
    with session() as s:
        row = s.scalar(select(Run).where(Run.run_id == run_id))
        return row.state if row is not None else None


def server_record(bed: Bed, name: str, run_id: str) -> dict[str, str]:
    """The run's status file as the runner left it on the server."""
    status = bed.sshd.home / layout.job_dir(jobs.get(name).uid) / "runs" / run_id / "status"
    return dict(line.split("=", 1) for line in status.read_text().splitlines() if "=" in line)


def test_a_reboot_leaves_an_interrupted_run_and_schedules_keep_firing(bed: Bed, cron: None) -> None:
    tick_src = bed.tree()
    (tick_src / "tick.txt").write_text("every minute")
    long_src = bed.tree()
    (long_src / "big.bin").write_bytes(os.urandom(4 * 1024 * 1024))
    chown(tick_src, bed.sshd.user)
    chown(long_src, bed.sshd.user)
    add_job(bed, "tick", [tick_src], schedule_expr="* * * * *")
    add_job(bed, "long", [long_src], bwlimit="100k")  # ~40 s: in progress at the reboot
    lost = run(jobs.run_now("long"))
    assert lost["state"] == "running"
    try:
        time.sleep(2)
        up = reboot(bed.sshd.user)

        # What the user sees: interrupted, with the reason in plain words.
        code, status = ctrlops_json("job", "status", "long")
        assert code == 1, status  # a job whose last run went wrong
        last = status["last_run"]
        assert (last["id"], last["state"]) == (lost["id"], "interrupted"), last
        assert last["diagnosis"]["category"] == "killed"
        assert "the server lost the run's process" in last["diagnosis"]["cause"]
        assert "rebooted" in last["diagnosis"]["cause"]
        assert last["diagnosis"]["fix"]
        # What the control plane recorded.
        assert cached_state(lost["id"]) == "interrupted"

        # The next cron minute starts the scheduled job again, and it succeeds.
        deadline = time.monotonic() + 130
        tick: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            tick = run(jobs.status("tick"))["last_run"]
            again = run(jobs.status("long"))["last_run"]
            assert again["state"] == "interrupted", again  # never "running" again
            if (
                tick
                and tick["trigger"] == "cron"
                and tick["state"] != "running"
                and (datetime.fromisoformat(tick["started"]) >= up)
            ):
                break
            time.sleep(3)
        assert tick is not None and datetime.fromisoformat(tick["started"]) >= up, tick
        assert tick["state"] == "success", tick
        assert bed.objects(f"current{tick_src}") == {"tick.txt": b"every minute"}

        # The next run of the job records the lost one as interrupted on the server too,
        # so no reader of the server's files ever finds it "running" again.
        assert server_record(bed, "long", lost["id"])["state"] == "running"
        assert run(jobs.run_now("long"))["state"] == "running"
        record = server_record(bed, "long", lost["id"])
        assert (record["state"], record["reason"]) == ("interrupted", "interrupted")
        assert record["finished"]
    finally:
        with contextlib.suppress(CtrlopsError):
            run(jobs.kill("long"))
