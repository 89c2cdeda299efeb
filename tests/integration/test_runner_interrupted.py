"""ctrlops-run after a reboot or a SIGKILL: a lost run reads as not alive, then interrupted.

The runner under dash with the real rclone and S3, as in test_runner.py. A reboot cannot
be staged here, so its traces are planted: records whose pid now names some other process,
or that carry another boot's id.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.test_runner import UID, Server, group_members
from tests.integration.test_runner import server as server  # the fixture, with its cleanup

BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
FOREIGN_BOOT = "00000000-1111-2222-3333-444444444444"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "data"
    src.mkdir()
    (src / "a.txt").write_text("alpha\n")
    return src


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes the test starts; killed afterwards, whatever happened."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def this_boot() -> str:
    return BOOT_ID.read_text().strip() if BOOT_ID.exists() else ""


def plant(server: Server, minutes_ago: int, pid: int, boot_id: str | None) -> str:
    """Write a record that says ``running`` for ``pid``, as a lost run leaves it."""
    when = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    run_id = f"{when:%Y%m%dT%H%M%SZ}-{pid}"
    rundir = server.jobdir / "runs" / run_id
    rundir.mkdir(parents=True)
    lines = [
        "state=running",
        "trigger=cron",
        f"pid={pid}",
        f"pgid={pid}",
        f"started={when:%Y-%m-%dT%H:%M:%SZ}",
        "finished=",
        "exit_code=",
        "reason=",
        "runner_version=5",
    ]
    if boot_id is not None:
        lines.append(f"boot_id={boot_id}")
    (rundir / "status").write_text("\n".join(lines) + "\n")
    return run_id


def look_alike(server: Server, procs: list[subprocess.Popen[bytes]]) -> int:
    """A live process whose argv reads like this job's runner (it is not; it holds no lock)."""
    proc = subprocess.Popen(
        ["sh", "-c", "sleep 60; :", str(server.runner), "start", UID, "cron"],
        start_new_session=True,
    )
    procs.append(proc)
    return proc.pid


def test_a_live_pid_that_is_not_the_runner_reads_as_not_alive(
    server: Server, source: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    server.job([source])
    sleeper = subprocess.Popen(["sleep", "60"])
    procs.append(sleeper)
    # The pid was reused within this boot: alive, but some unrelated process now.
    run_id = plant(server, 30, sleeper.pid, this_boot())
    assert server.record(run_id)["alive"] == "0"


def test_a_pid_recorded_in_another_boot_reads_as_not_alive(
    server: Server, source: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    if not this_boot():
        pytest.skip("this kernel does not tell its boot id")
    server.job([source])
    pid = look_alike(server, procs)
    same_boot = plant(server, 40, pid, this_boot())
    other_boot = plant(server, 30, pid, FOREIGN_BOOT)
    records = server.records()
    # Same live process, same runner-like argv: only the boot id tells them apart.
    assert records[same_boot]["alive"] == "1"
    assert records[other_boot]["alive"] == "0"


def test_the_next_start_records_lost_runs_as_interrupted_for_good(
    server: Server, source: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    server.job([source])
    sleeper = subprocess.Popen(["sleep", "60"])
    procs.append(sleeper)
    reused = plant(server, 30, sleeper.pid, this_boot())
    foreign = plant(server, 20, look_alike(server, procs), FOREIGN_BOOT)
    (server.jobdir / "current").write_text(foreign + "\n")
    before = server.records()

    out = server.run("start", UID)

    assert out.returncode == 0, out.stderr
    records = server.records()
    (new,) = set(records) - {reused, foreign}
    assert records[new]["state"] == "success"
    for run_id in (reused, foreign):
        record = records[run_id]
        assert (record["state"], record["reason"]) == ("interrupted", "interrupted")
        assert record["finished"] >= record["started"]
        assert "alive" not in record  # no longer a running record to check
        # What the lost run was is kept: when it started, who started it, its pid.
        for key in ("started", "trigger", "pid", "boot_id"):
            assert record[key] == before[run_id][key]
    assert not (server.jobdir / "current").exists()
    # The runner only rewrote records: the processes the pids name now were not touched.
    assert sleeper.poll() is None and procs[-1].poll() is None


def test_a_sigkilled_run_is_recorded_interrupted_by_the_next_start(
    server: Server, source: Path
) -> None:
    (source / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    server.job([source], bwlimit="256k")
    out = server.run("detach", UID)
    assert out.returncode == 0, out.stderr
    lost = out.stdout.strip()
    record = server.record(lost)
    assert record["boot_id"] == this_boot()
    pgid = int(record["pgid"])
    deadline = time.monotonic() + 10
    while not any("rclone copy" in argv for _, argv in group_members(pgid)):
        assert time.monotonic() < deadline, "rclone never started"
        time.sleep(0.05)
    # Power loss: the runner and its rclone die at once, no trap runs.
    os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while group_members(pgid):
        assert time.monotonic() < deadline, "the run's group did not die"
        time.sleep(0.05)
    record = server.record(lost)
    assert (record["state"], record["alive"]) == ("running", "0")

    (source / "big.bin").unlink()
    out = server.run("start", UID)

    assert out.returncode == 0, out.stderr
    records = server.records()
    assert (records[lost]["state"], records[lost]["reason"]) == ("interrupted", "interrupted")
    (new,) = set(records) - {lost}
    assert records[new]["state"] == "success"
    # Read again later, it stays interrupted: nothing is left that says running.
    assert [r["state"] for r in server.records().values()].count("running") == 0
