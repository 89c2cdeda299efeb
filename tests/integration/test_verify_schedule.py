"""Scheduled verification end to end: real cron fires `ctrlops-run verify` on a real sshd
server, which compares the sources with real SeaweedFS through the real rclone."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ctrlops.remote.exec import execute
from ctrlops.runner import layout
from ctrlops.services import jobs, metrics, overview, servers, sync
from ctrlops.services import verification as service
from tests.support.cli import ctrlops, ctrlops_json
from tests.support.jobs import Bed, chown, run
from tests.support.jobs import add_job as add
from tests.support.s3 import RCLONE, rclone_env
from tests.support.sshd import IS_ROOT

CRON = "/usr/sbin/cron"
CRON_PID = Path("/run/crond.pid")
# Never fires while a test runs (03:00 on 29 February), yet deploys a verify line.
RARELY = "0 3 29 2 *"


def _cron_pids() -> set[int]:
    out = subprocess.run(["pgrep", "-x", "cron"], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


@pytest.fixture
def cron_daemon() -> Iterator[None]:
    """The real cron daemon, running for the test; stopped again (by its pid) if the test
    started it."""
    if not IS_ROOT or not Path(CRON).exists():
        pytest.skip("needs root and Debian's cron (the daemon runs as root)")
    started: int | None = None
    if not _cron_pids():
        subprocess.run([CRON], check=True)
        for _ in range(50):
            if _cron_pids():
                break
            time.sleep(0.1)
        started = int(CRON_PID.read_text().split()[0])
    yield
    if started is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(started, signal.SIGTERM)
        for _ in range(50):
            if started not in _cron_pids():
                break
            time.sleep(0.1)


def tree(bed: Bed, files: dict[str, bytes]) -> Path:
    root = bed.tree()
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    chown(root, bed.sshd.user)
    return root


def backup(name: str) -> None:
    result = run(jobs.run_now(name, wait=True))
    assert result["state"] == "success", result


def verify_on_server(name: str) -> int:
    """Run `ctrlops-run verify UID manual` on the job's server, as cron would; its exit."""

    async def go() -> int:
        info = jobs.get(name)
        async with servers.open_remote(info.server) as remote:
            command = f'PATH={layout.CRON_PATH}; export PATH; exec "$HOME/{layout.RUNNER}" "$@"'
            argv = ["sh", "-c", command, "ctrlops-run", "verify", info.uid, "manual"]
            result = await execute(remote, argv, timeout=300, check=False)
            return result.exit_status or 0

    return run(go())


def crontab_of(user: str) -> str:
    return subprocess.run(["crontab", "-l", "-u", user], capture_output=True, text=True).stdout


def plant(bed: Bed, key: str, data: bytes | None) -> None:
    """Overwrite (or with None delete) one object at the destination, behind ctrlops' back."""
    env, target = rclone_env(bed.s3), f"s3t:{bed.bucket}/{key}"
    if data is None:
        subprocess.run([RCLONE, "deletefile", target], env=env, check=True)
    else:
        subprocess.run([RCLONE, "rcat", target], input=data, env=env, check=True)


def restore_dirs(bed: Bed, name: str) -> list[Path]:
    job_dir = bed.sshd.home / layout.job_dir(jobs.get(name).uid)
    return [p for p in job_dir.iterdir() if p.name.startswith("restore-test")]


def test_cron_verification_reports_exactly_the_planted_differences(
    bed: Bed, cron_daemon: None
) -> None:
    src = tree(bed, {"a.txt": b"alpha", "b.txt": b"bravo", "sub/c.txt": b"charlie"})
    (src / "skip.tmp").write_bytes(b"never backed up")
    chown(src, bed.sshd.user)
    options = {"verify_schedule": RARELY, "restore_test_files": 10}
    add(bed, "nightly", [src], excludes=["*.tmp"], options=options)
    uid = jobs.get("nightly").uid
    assert f'"$HOME/.ctrlops/bin/ctrlops-run" verify {uid} cron' in crontab_of(bed.sshd.user)
    backup("nightly")

    # A clean backup: nothing differs, and every file reads back identical.
    assert verify_on_server("nightly") == 0
    code, clean = ctrlops_json("job", "verify", "nightly", "--last")
    assert code == 0, clean
    assert (clean["state"], clean["signal"], clean["differences"]) == ("ok", "green", 0)
    assert clean["matched"] == 3  # the excluded file is not compared, as it is not copied
    assert clean["restore_test"] == {"state": "ok", "files": 3, "failed": 0, "paths": []}
    assert restore_dirs(bed, "nightly") == []

    # Behind ctrlops' back: one object gets other content of the same size (only the hash
    # can tell), another is deleted. Then cron verifies every minute.
    plant(bed, f"current{src}/a.txt", b"ALPHA")
    plant(bed, f"current{src}/sub/c.txt", None)
    edited = ctrlops("job", "edit", "nightly", "--verify-schedule", "* * * * *")
    assert edited.returncode == 0, edited.stderr
    assert f"* * * * * PATH={layout.CRON_PATH}" in crontab_of(bed.sshd.user)

    deadline = time.monotonic() + 130
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = run(service.last_verification("nightly"))
        if last.get("trigger") == "cron" and last["state"] != "running":
            break
        time.sleep(3)
    assert last.get("trigger") == "cron", last

    code, found = ctrlops_json("job", "verify", "nightly", "--last")
    assert code == 1
    assert (found["state"], found["signal"], found["differences"]) == ("differences", "red", 2)
    assert found["differ"] == {"count": 1, "paths": [f"{src}/a.txt"]}
    assert found["missing"] == {"count": 1, "paths": [f"{src}/sub/c.txt"]}
    assert found["extra"]["count"] == found["errors"]["count"] == 0
    # The restore test reads back what is at the destination: the altered object fails it.
    assert found["restore_test"] == {
        "state": "failed",
        "files": 2,
        "failed": 1,
        "paths": [f"{src}/a.txt"],
    }
    assert restore_dirs(bed, "nightly") == []

    words = ctrlops("job", "verify", "nightly", "--last")
    assert words.returncode == 1
    assert "missing at the destination: 1" in words.stdout
    assert "different at the destination: 1" in words.stdout
    assert "fix:" in words.stdout and "ctrlops job run nightly" in words.stdout

    code, status = ctrlops_json("job", "status", "nightly")
    assert status["last_verify"]["signal"] == "red"
    assert status["last_verify"]["differences"] == 2
    # The sync keeps it for the overview's badge and the metrics, without SSH per page.
    synced = run(sync.sync_server(bed.server))
    assert "nightly" in synced.changed_jobs
    kept = overview.job_row("nightly").verify
    assert kept is not None and (kept["signal"], kept["differences"]) == ("red", 2)
    assert 'ctrlops_job_verify_signal{job="nightly",server="web1"} 2.0' in (
        metrics.exposition().decode()
    )

    stopped = ctrlops("job", "edit", "nightly", "--verify-schedule", "")
    assert stopped.returncode == 0, stopped.stderr
    assert f"verify {uid}" not in crontab_of(bed.sshd.user)
    assert "restore_test_files" not in jobs.get("nightly").options


def test_copy_mode_expects_deleted_files_at_the_destination_mirror_mode_does_not(
    bed: Bed,
) -> None:
    src = tree(bed, {"a.txt": b"a", "b.txt": b"b"})
    add(bed, "copyjob", [src], options={"verify_schedule": RARELY})
    backup("copyjob")
    (src / "b.txt").unlink()  # copy never deletes at the destination: b.txt stays there
    assert verify_on_server("copyjob") == 0
    copy_mode = run(service.last_verification("copyjob"))
    assert (copy_mode["state"], copy_mode["differences"]) == ("ok", 0)
    assert copy_mode["restore_test"]["state"] == "off"

    mirror_src = tree(bed, {"a.txt": b"a"})
    add(
        bed,
        "mirrorjob",
        [mirror_src],
        mode="mirror",
        prefix="m",
        options={"verify_schedule": RARELY},
    )
    backup("mirrorjob")
    plant(bed, f"m/current{mirror_src}/stray.txt", b"not from the source")
    assert verify_on_server("mirrorjob") == 1
    mirror = run(service.last_verification("mirrorjob"))
    assert (mirror["state"], mirror["signal"]) == ("differences", "red")
    assert mirror["extra"] == {"count": 1, "paths": [f"{mirror_src}/stray.txt"]}


def test_a_verification_that_cannot_compare_fails_and_names_the_cause(bed: Bed) -> None:
    src = tree(bed, {"a.txt": b"a"})
    add(bed, "gone", [src], options={"verify_schedule": RARELY})
    backup("gone")
    (src / "a.txt").unlink()
    src.rmdir()
    assert verify_on_server("gone") == 3
    found = run(service.last_verification("gone"))
    assert (found["state"], found["signal"]) == ("failed", "amber")
    assert f"{src} does not exist" in found["cause"]


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--verify-schedule", "61 * * * *"], "--verify-schedule"),
        (["--verify-schedule", "every sunday"], "--verify-schedule"),
        (["--restore-test-files", "5"], "--restore-test-files"),  # without a schedule
        (["--verify-schedule", "0 3 * * 0", "--restore-test-files", "-1"], "--restore-test-files"),
    ],
)
def test_bad_verification_settings_exit_2_naming_the_flag(
    bed: Bed, args: list[str], field: str
) -> None:
    src = bed.tree()
    r = ctrlops(
        "job", "add", "v", "--server", bed.server, "--source", str(src), "--dest", bed.dest, *args
    )
    assert r.returncode == 2, r.stderr
    assert field in r.stderr.splitlines()[0]
    assert jobs.list_all() == []


def test_edit_and_last_refuse_bad_input_and_say_when_nothing_is_scheduled(bed: Bed) -> None:
    add(bed, "plain", [bed.tree()])
    bad = ctrlops("job", "edit", "plain", "--verify-schedule", "0 25 * * *")
    assert bad.returncode == 2 and "--verify-schedule" in bad.stderr
    both = ctrlops("job", "verify", "plain", "--last", "--download")
    assert both.returncode == 2 and "--download" in both.stderr
    none = ctrlops("job", "verify", "plain", "--last")
    assert none.returncode == 1
    assert "no scheduled verification" in none.stderr and "--verify-schedule" in none.stderr
