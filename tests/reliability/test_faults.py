"""Faults survived: each ends with the true state recorded and nothing lost."""

from __future__ import annotations

import random
import subprocess
import time
from typing import Any

from ctrlops.runner import crontab, script
from ctrlops.services import jobs
from tests.support.cli import CTRLOPS, ctrlops
from tests.support.jobs import Bed, chown, run
from tests.support.jobs import add_job as add


def crontab_of(user: str) -> str:
    return subprocess.run(["crontab", "-l", "-u", user], capture_output=True, text=True).stdout


def wait_until_finished(name: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        last = run(jobs.status(name))["last_run"]
        if last["state"] != "running" or time.monotonic() > deadline:
            return last  # type: ignore[no-any-return]
        time.sleep(1)


def test_a_backup_survives_its_ssh_connection_being_cut(bed: Bed) -> None:
    src = bed.tree()
    payload = random.randbytes(3 * 1024 * 1024)
    (src / "big.bin").write_bytes(payload)
    chown(src, bed.sshd.user)
    add(bed, "cut", [src], bwlimit="1M")
    assert run(jobs.run_now("cut"))["state"] == "running"
    # The session's sshd processes die (as on a network cut); the run is detached from them.
    subprocess.run(["pkill", "-KILL", "-P", str(bed.sshd.proc.pid)], check=False)
    last = wait_until_finished("cut")
    assert last["state"] == "success", last
    assert bed.objects(f"current{src}") == {"big.bin": payload}


def test_concurrent_deploys_to_one_server_lose_no_crontab_line(bed: Bed) -> None:
    srcs = [bed.tree() for _ in range(4)]
    env = {"CTRLOPS_CONNECT_TIMEOUT": "20"}
    procs = [
        subprocess.Popen(
            [
                CTRLOPS,
                "job",
                "add",
                f"j{i}",
                "--server",
                bed.server,
                "--source",
                str(src),
                "--dest",
                bed.dest,
                "--schedule",
                f"{i} 3 * * *",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**__import__("os").environ, **env},
        )
        for i, src in enumerate(srcs)
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    block = crontab.parse_block(crontab_of(bed.sshd.user))
    assert block is not None and not block.drifted
    assert sorted(e.schedule for e in block.entries) == [f"{i} 3 * * *" for i in range(4)]


def test_killing_the_control_plane_mid_deploy_never_leaves_a_torn_crontab_or_runner(
    bed: Bed,
) -> None:
    own = "# my own line\n5 5 * * * /bin/true\n"
    subprocess.run(["crontab", "-u", bed.sshd.user, "-"], input=own, text=True, check=True)
    src = bed.tree()
    runner = bed.sshd.home / ".ctrlops" / "bin" / "ctrlops-run"
    for attempt in range(6):
        runner.unlink(missing_ok=True)
        proc = subprocess.Popen(
            [
                CTRLOPS,
                "job",
                "add",
                f"k{attempt}",
                "--server",
                bed.server,
                "--source",
                str(src),
                "--dest",
                bed.dest,
                "--schedule",
                "0 4 * * *",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(random.uniform(0.8, 2.5))
        proc.kill()
        proc.wait()
        text = crontab_of(bed.sshd.user)
        assert text.startswith(own)
        block = crontab.parse_block(text)
        assert block is None or not block.drifted, text
        if runner.exists():
            assert runner.read_bytes() == script.load()
    # The next deploy repairs whatever was left behind.
    r = ctrlops(
        "job",
        "add",
        "final",
        "--server",
        bed.server,
        "--source",
        str(src),
        "--dest",
        bed.dest,
        "--schedule",
        "0 4 * * *",
    )
    assert r.returncode == 0, r.stderr
    assert runner.read_bytes() == script.load()
    assert crontab_of(bed.sshd.user).startswith(own)


def test_a_run_lost_in_a_crash_is_recorded_as_interrupted_not_running_forever(bed: Bed) -> None:
    src = bed.tree()
    (src / "big.bin").write_bytes(b"\0" * (4 * 1024 * 1024))
    chown(src, bed.sshd.user)
    add(bed, "crash", [src], bwlimit="100k")
    assert run(jobs.run_now("crash"))["state"] == "running"
    time.sleep(1)
    # Power loss: every process of the user dies at once, no trap gets to run.
    subprocess.run(["pkill", "-KILL", "-u", bed.sshd.user], check=False)
    last = run(jobs.status("crash"))["last_run"]
    assert last["state"] == "interrupted"
    assert last["diagnosis"]["category"] == "killed"
    assert "the server lost the run's process" in last["diagnosis"]["cause"]


def test_a_frozen_storage_endpoint_makes_the_run_stalled_and_kill_works(bed: Bed) -> None:
    src = bed.tree()
    (src / "big.bin").write_bytes(b"\2" * (6 * 1024 * 1024))
    chown(src, bed.sshd.user)
    add(bed, "frozen", [src], bwlimit="500k", options={"stall_seconds": 6})
    assert run(jobs.run_now("frozen"))["state"] == "running"
    time.sleep(2)
    bed.s3.pause()
    try:
        deadline = time.monotonic() + 60
        state = "running"
        while time.monotonic() < deadline and state != "stalled":
            time.sleep(2)
            last = run(jobs.status("frozen"))["last_run"]
            state = last["state"]
        assert state == "stalled", last
        assert last["diagnosis"]["category"] == "stalled"
        assert run(jobs.kill("frozen"))["state"] == "killed"
    finally:
        bed.s3.resume()
