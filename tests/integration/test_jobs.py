"""Backup jobs end to end over a real sshd, to a real S3 server, with the real rclone."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ctrlops.backup import deploy
from ctrlops.errors import InputError
from ctrlops.runner import crontab, layout
from ctrlops.server import facts
from ctrlops.services import jobs
from tests.support.jobs import Bed, chown, run
from tests.support.jobs import add_job as add
from tests.support.sshd import IS_ROOT


def crontab_of(user: str) -> str:
    r = subprocess.run(["crontab", "-l", "-u", user], capture_output=True, text=True)
    return r.stdout


def test_it_backs_up_a_tree_and_the_objects_land_with_their_content(bed: Bed) -> None:
    src = bed.tree()
    (src / "a.txt").write_text("alpha")
    (src / "sub").mkdir()
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)) * 40)
    chown(src, bed.sshd.user)
    add(bed, "site", [src], prefix="web")

    first = run(jobs.run_now("site", wait=True))
    assert first["state"] == "success", first
    assert first["files_transferred"] == 2
    objects = bed.objects(f"web/current{src}")
    assert objects == {"a.txt": b"alpha", "sub/b.bin": bytes(range(256)) * 40}

    again = run(jobs.run_now("site", wait=True))
    assert again["state"] == "success"
    assert (again["files_transferred"], again["checks"]) == (0, 2)

    status = run(jobs.status("site"))
    assert status["last_run"]["id"] == again["id"]
    assert status["last_run"]["state"] == "success"


def test_it_calls_an_empty_source_success_nothing_copied(bed: Bed) -> None:
    add(bed, "empty", [bed.tree()])
    r = run(jobs.run_now("empty", wait=True))
    assert r["state"] == "success, nothing copied"
    assert r["diagnosis"]["category"] == "zero_transferred"
    assert bed.objects() == {}


def test_it_fails_a_missing_source_and_names_it(bed: Bed) -> None:
    missing = bed.sshd.home / "no-such-dir"
    add(bed, "typo", [missing])
    r = run(jobs.run_now("typo", wait=True))
    assert r["state"] == "failed"
    assert r["diagnosis"]["category"] == "source_missing"
    assert str(missing) in r["diagnosis"]["cause"]


def test_mirror_mode_keeps_deleted_and_overwritten_files_as_versions(bed: Bed) -> None:
    src = bed.tree()
    (src / "keep.txt").write_text("v1")
    (src / "gone.txt").write_text("bye")
    chown(src, bed.sshd.user)
    add(bed, "mirror", [src], mode="mirror")
    assert run(jobs.run_now("mirror", wait=True))["state"] == "success"
    (src / "gone.txt").unlink()
    (src / "keep.txt").write_text("v2")
    assert run(jobs.run_now("mirror", wait=True))["state"] == "success"

    objects = bed.objects()
    assert objects[f"current{src}/keep.txt"] == b"v2"
    assert f"current{src}/gone.txt" not in objects
    versions = {k: v for k, v in objects.items() if k.startswith("versions/")}
    assert sorted(versions.values()) == [b"bye", b"v1"]


def test_it_kills_a_long_run_and_everything_it_started(bed: Bed) -> None:
    src = bed.tree()
    (src / "big.bin").write_bytes(b"\0" * (8 * 1024 * 1024))
    chown(src, bed.sshd.user)
    add(bed, "slow", [src], bwlimit="100k")
    started = run(jobs.run_now("slow"))
    assert started["state"] == "running"
    time.sleep(2)
    killed = run(jobs.kill("slow"))
    assert killed["state"] == "killed"
    ps = subprocess.run(["pgrep", "-u", bed.sshd.user, "-f", "rclone"], capture_output=True)
    assert ps.stdout == b""


def test_no_secret_appears_in_any_process_listing_during_a_run(bed: Bed) -> None:
    src = bed.tree()
    (src / "big.bin").write_bytes(b"\1" * (2 * 1024 * 1024))
    chown(src, bed.sshd.user)
    add(bed, "watched", [src], bwlimit="500k")
    run(jobs.run_now("watched"))
    secret = bed.s3.rw.secret_access_key.encode()
    seen_rclone = False
    for _ in range(20):
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                data = cmdline.read_bytes()
            except OSError:
                continue
            assert secret not in data
            seen_rclone = seen_rclone or (b"rclone" in data and b"copy" in data)
        time.sleep(0.1)
    assert seen_rclone
    run(jobs.kill("watched"))


def test_the_users_own_crontab_lines_survive_byte_for_byte(bed: Bed) -> None:
    own = "MAILTO=ops@example.com\n# nightly report\n15 4 * * * /usr/bin/report --all\nPATH=/bin\n"
    subprocess.run(["crontab", "-u", bed.sshd.user, "-"], input=own, text=True, check=True)
    add(bed, "sched", [bed.tree()], schedule_expr="0 2 * * *")
    during = crontab_of(bed.sshd.user)
    assert during.startswith(own + "# BEGIN ctrlops\n")
    assert "0 2 * * * PATH=" in during
    run(jobs.remove("sched"))
    assert crontab_of(bed.sshd.user) == own


def test_it_handles_hostile_paths_without_a_shell(bed: Bed) -> None:
    src = bed.tree('it\'s $(touch pwned); `touch pwned` & "q"')
    (src / "f $(id).txt").write_text("safe")
    chown(src, bed.sshd.user)
    add(bed, "odd", [src], excludes=["*.tmp; touch pwned"])
    r = run(jobs.run_now("odd", wait=True))
    assert r["state"] == "success", r
    assert bed.objects(f"current{src}") == {"f $(id).txt": b"safe"}
    assert not list(bed.sshd.home.rglob("pwned"))


def test_bad_input_is_refused_before_anything_reaches_the_server(bed: Bed) -> None:
    with pytest.raises(InputError) as e:
        jobs.spec("bad", server=bed.server, sources=["relative/path"], dest=bed.dest)
    assert e.value.field == "--source"
    with pytest.raises(InputError) as e:
        jobs.spec(
            "bad", server=bed.server, sources=["/srv"], dest=bed.dest, schedule_expr="61 * * * *"
        )
    assert e.value.field == "schedule"
    assert not (bed.sshd.home / ".ctrlops" / "jobs").exists() or not list(
        (bed.sshd.home / ".ctrlops" / "jobs").iterdir()
    )


def test_a_schedule_in_another_timezone_is_refused_with_the_servers_zone(bed: Bed) -> None:
    with pytest.raises(InputError) as e:
        add(bed, "tz", [bed.tree()], schedule_expr="0 2 * * *", timezone="Asia/Tokyo")
    assert e.value.field == "--timezone"
    assert "runs cron in" in e.value.reason
    assert jobs.list_all() == []


def test_a_server_redeploy_gathers_facts_once_and_sets_the_crontab_once(
    bed: Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every job's files and crontab line are put right in one pass over the server."""
    own = "MAILTO=ops@example.com\n15 4 * * * /usr/bin/report --all\n"
    subprocess.run(["crontab", "-u", bed.sshd.user, "-"], input=own, text=True, check=True)
    for i in range(4):
        add(bed, f"j{i}", [bed.tree()], schedule_expr=f"{i} 2 * * *")
    add(bed, "manual", [bed.tree()])
    before = {i.name: i.deployed_at for i in jobs.list_all()}
    # What a redeploy repairs: a job's settings file gone, a schedule edited by hand.
    env = bed.sshd.home / layout.job_dir(jobs.get("j1").uid) / "job.env"
    env.unlink()
    edited = crontab_of(bed.sshd.user).replace("1 2 * * *", "9 9 * * *")
    subprocess.run(["crontab", "-u", bed.sshd.user, "-"], input=edited, text=True, check=True)

    calls: Counter[str] = Counter()

    def counted(name: str, real: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return await real(*args, **kwargs)

        return call

    monkeypatch.setattr(facts, "gather", counted("facts", facts.gather))
    monkeypatch.setattr(deploy, "set_schedules", counted("crontab", deploy.set_schedules))
    names = run(jobs.redeploy_server(bed.server))

    assert sorted(names) == ["j0", "j1", "j2", "j3", "manual"]
    assert calls == {"facts": 1, "crontab": 1}
    text = crontab_of(bed.sshd.user)
    assert text.startswith(own)
    block = crontab.parse_block(text)
    assert block is not None and not block.drifted, block
    uids = {jobs.get(f"j{i}").uid for i in range(4)}
    assert {e.uid for e in block.entries} == uids and len(block.entries) == 4
    assert "9 9 * * *" not in text and "1 2 * * *" in text
    assert env.exists()
    after = {i.name: i.deployed_at for i in jobs.list_all()}
    for n in names:
        old, new = before[n], after[n]
        assert old is not None and new is not None and new > old
    assert run(jobs.run_now("j1", wait=True))["state"] == "success, nothing copied"


@pytest.fixture
def cron_daemon() -> Any:
    """The real cron daemon, running for the test (stopped again if the test started it)."""
    if not IS_ROOT:
        pytest.skip("the cron daemon runs as root")
    was_running = subprocess.run(["pgrep", "-x", "cron"], capture_output=True).returncode == 0
    if not was_running:
        subprocess.run(["/usr/sbin/cron"], check=True)
    yield
    if not was_running:
        subprocess.run(["pkill", "-x", "cron"], check=False)
        for _ in range(50):
            if not _cron_running():
                break
            time.sleep(0.1)


def test_cron_fires_a_scheduled_run_at_the_minute_boundary(bed: Bed, cron_daemon: Any) -> None:
    src = bed.tree()
    (src / "x.txt").write_text("from cron")
    chown(src, bed.sshd.user)
    add(bed, "minutely", [src], schedule_expr="* * * * *")
    deadline = time.monotonic() + 130
    last = None
    while time.monotonic() < deadline:
        last = run(jobs.status("minutely"))["last_run"]
        if last and last["trigger"] == "cron" and last["state"] != "running":
            break
        time.sleep(3)
    assert last is not None and last["trigger"] == "cron", last
    assert last["state"] == "success"
    assert bed.objects(f"current{src}") == {"x.txt": b"from cron"}


def _cron_running() -> bool:
    return subprocess.run(["pgrep", "-x", "cron"], capture_output=True).returncode == 0


@pytest.fixture
def cron_stopped() -> Any:
    """No cron daemon during the test (restarted afterwards if it was running)."""
    was_running = _cron_running()
    if was_running:
        if not IS_ROOT:
            pytest.skip("cron is running and only root may stop it")
        subprocess.run(["pkill", "-x", "cron"], check=False)
        for _ in range(50):
            if not _cron_running():
                break
            time.sleep(0.1)
    yield
    if was_running:
        subprocess.run(["/usr/sbin/cron"], check=True)


def test_a_stopped_cron_shows_missed_runs_and_says_why(bed: Bed, cron_stopped: Any) -> None:
    add(bed, "every-minute", [bed.tree()], schedule_expr="* * * * *")
    # Three minutes on, by the clock the check uses: no record exists on the server.
    later = datetime.now(UTC) + timedelta(minutes=3)
    status = run(jobs.status("every-minute", now=later))
    assert len(status["missed"]) >= 1
    assert "the cron service is not running on the server" in status["missed_reasons"]
