"""The storage endpoint dies mid-run: the run says so, and never claims a backup it lacks.

A dedicated SeaweedFS (own data dir, own port, own destination) is SIGKILLed while a job
copies to it, so the session's S3 that every other test uses is never touched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ctrlops.embedded.s3 import LocalS3
from ctrlops.errors import CtrlopsError
from ctrlops.rclone.providers import DestinationSpec
from ctrlops.runner import layout
from ctrlops.services import destinations, jobs
from tests.support.cli import ctrlops_json
from tests.support.jobs import Bed, add_job, chown, run
from tests.support.s3 import RCLONE, rclone_env

# ~4 MiB under a 512 KiB/s limit: a run of ~8 s, long enough to be cut at a known point,
# short enough to wait for. Many small files while the server comes back (each one is a
# request that may fail); a few big ones when it never does.
FILES, FILE_SIZE = 128, 32 * 1024
BIG_FILES, BIG_FILE_SIZE = 4, 1024 * 1024
BWLIMIT = "512k"
NETWORK = {"conn_refused", "timeout", "dns", "tls"}
# How long a run may go on against an endpoint dead for good. The runner's retry defaults
# (3 low-level x 3 passes, 10 s apart) end it in about a minute and a half; rclone's own
# (10 x 10 attempts per request, each pass) took hours.
GIVE_UP_SECONDS = 120


@pytest.fixture
def flaky(bed: Bed, tmp_path: Path) -> Iterator[Bed]:
    """The bed, with its destination on an S3 server of its own that the test may kill."""
    server = LocalS3(tmp_path / "flaky-s3").start()
    try:
        bucket = "flaky-" + os.urandom(4).hex()
        server.make_bucket(bucket)
        destinations.add(
            DestinationSpec(
                name="flaky",
                provider="minio",
                bucket=bucket,
                endpoint=server.endpoint,
                access_key_id=server.rw.access_key_id,
            ),
            server.rw.secret_access_key,
        )
        yield dataclasses.replace(bed, dest="flaky", bucket=bucket, s3=server)
    finally:
        server.stop()


def kill_s3(server: LocalS3) -> None:
    """SIGKILL the whole ``weed`` process group, as a crash or an OOM kill would."""
    assert server.proc is not None
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    server.proc = None


def source_tree(bed: Bed, count: int, size: int) -> tuple[Path, dict[str, bytes]]:
    src = bed.tree()
    files = {f"f{i:03d}.bin": random.randbytes(size) for i in range(count)}
    for name, data in files.items():
        (src / name).write_bytes(data)
    chown(src, bed.sshd.user)
    return src, files


def cut_mid_run(bed: Bed, name: str) -> dict[str, Any]:
    """Start a run and return its status once some files, not all, reached the bucket."""
    assert run(jobs.run_now(name))["state"] == "running"
    deadline = time.monotonic() + 30
    while True:
        last = run(jobs.status(name))["last_run"]
        assert last["state"] == "running", last
        if last["files_transferred"] >= 1:
            return last  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, last
        time.sleep(0.3)


def wait_until_finished(name: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        last = run(jobs.status(name))["last_run"]
        if last["state"] != "running":
            return last  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"still running after {timeout} s: {last}"
        time.sleep(1)


def stop_run(name: str) -> None:
    """Leave no rclone behind when an assertion ended the test early."""
    with contextlib.suppress(CtrlopsError):
        run(jobs.kill(name))


def read_object(bed: Bed, key: str) -> bytes | None:
    """The object's content read with `rclone cat` (listings may lag; a read does not)."""
    out = subprocess.run(
        [RCLONE, "cat", f"s3t:{bed.bucket}/{key}"],
        env=rclone_env(bed.s3),
        capture_output=True,
        check=False,
    )
    return out.stdout if out.returncode == 0 else None


def listed(bed: Bed, sub: str) -> set[str]:
    out = subprocess.run(
        [RCLONE, "lsf", "-R", "--files-only", f"s3t:{bed.bucket}/{sub}"],
        env=rclone_env(bed.s3),
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.splitlines())


def missing_or_wrong(bed: Bed, src: Path, files: dict[str, bytes]) -> list[str]:
    return [n for n, data in files.items() if read_object(bed, f"current{src}/{n}") != data]


def test_s3_killed_and_back_in_time_ends_complete_or_failed_never_falsely_ok(
    flaky: Bed,
) -> None:
    src, files = source_tree(flaky, FILES, FILE_SIZE)
    add_job(flaky, "restart", [src], bwlimit=BWLIMIT)
    try:
        cut = cut_mid_run(flaky, "restart")
        kill_s3(flaky.s3)
        time.sleep(1)
        flaky.s3.start()  # same port, same data dir, same identities
        last = wait_until_finished("restart", timeout=240)
    finally:
        stop_run("restart")
    assert cut["files_transferred"] < FILES
    # "warning": finished, with files that needed a retry.
    assert last["state"] in ("success", "warning", "failed"), last
    bad = missing_or_wrong(flaky, src, files)
    if last["state"] != "failed":
        # rclone's retries carried the run over the outage: everything is there, intact,
        # and nothing else (no partial upload left under another name).
        assert bad == [], f"{last['state']}, yet {len(bad)} objects missing or wrong: {bad[:5]}"
        assert listed(flaky, f"current{src}") == set(files)
        assert last["exit_code"] == 0
    else:
        # rclone gave up before the server was back: the run says why, by name.
        assert last["diagnosis"]["category"] in NETWORK, last


def test_s3_killed_for_good_fails_the_run_naming_the_endpoint(flaky: Bed) -> None:
    src, files = source_tree(flaky, BIG_FILES, BIG_FILE_SIZE)
    # One file at a time, so that some are complete when the server dies.
    # No retry flags of its own: the runner's defaults must bound the run.
    add_job(flaky, "gone", [src], bwlimit=BWLIMIT, options={"transfers": 1})
    job_env = flaky.sshd.home / layout.job_dir(jobs.get("gone").uid) / "job.env"
    assert "retries" not in job_env.read_text()
    port = flaky.s3.port
    try:
        cut_mid_run(flaky, "gone")
        kill_s3(flaky.s3)
        killed_at = time.monotonic()
        last = wait_until_finished("gone", timeout=GIVE_UP_SECONDS + 60)
        gave_up_after = time.monotonic() - killed_at
    finally:
        stop_run("gone")
    assert last["state"] == "failed", last
    assert gave_up_after < GIVE_UP_SECONDS, f"ran on {gave_up_after:.0f} s against a dead endpoint"
    assert last["exit_code"] not in (0, None), last
    diagnosis = last["diagnosis"]
    assert diagnosis["category"] == "conn_refused", diagnosis
    assert f"127.0.0.1:{port}" in diagnosis["cause"], diagnosis
    assert diagnosis["fix"]
    # The user sees the same through the CLI, with exit status 1 (the job is failing).
    code, status = ctrlops_json("job", "status", "gone")
    assert code == 1, status
    assert status["last_run"]["state"] == "failed"
    assert status["last_run"]["diagnosis"]["category"] == "conn_refused"
    # Some files had made it before the crash, the rest had not: nothing claims otherwise.
    flaky.s3.start()
    assert missing_or_wrong(flaky, src, files), "every object arrived though S3 was dead"
