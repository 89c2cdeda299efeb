"""Install Cron on a server where Debian's cron package is really not installed.

The server is an sshd in its own mount and PID namespace (``no_cron_package``): dpkg there
has purged cron, and apt installs from a local repository holding Debian's cron .deb, so
"Install Cron" runs the real apt-get/dpkg and the real postinst, and the cron it starts
fires a real crontab line. Nothing outside the namespace changes.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ctrlops.embedded.s3 import LocalS3
from ctrlops.rclone.providers import DestinationSpec
from ctrlops.remote.exec import execute
from ctrlops.server.spec import parse_spec
from ctrlops.services import destinations, jobs, servers
from tests.support.cli import ctrlops_json
from tests.support.jobs import chown, run
from tests.support.s3 import RCLONE, rclone_env
from tests.support.users import NoCronBed, ns_pids

INSTALL = "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y cron"
CRON_WAIT = 75  # seconds: the next minute boundary, then the run itself


def _ids(check: dict[str, Any]) -> list[str]:
    assert check["ok"], check
    return [b["id"] for b in check["banners"]]


def _on_server(name: str, script: str) -> str:
    async def go() -> str:
        async with servers.open_remote(name) as remote:
            return (await execute(remote, ["sh", "-c", script], check=False)).stdout

    return run(go())


def _crons(bed: NoCronBed) -> list[int]:
    """The cron daemons running inside the server's namespace."""
    out = []
    for pid in ns_pids(bed.ns):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "cron":
                out.append(pid)
        except OSError:
            pass
    return out


def _objects(s3: LocalS3, bucket: str) -> dict[str, bytes]:
    env = rclone_env(s3)
    root = f"s3t:{bucket}"
    names = subprocess.run(
        [RCLONE, "lsf", "-R", "--files-only", root], env=env, capture_output=True, text=True
    ).stdout.split()
    return {
        n: subprocess.run([RCLONE, "cat", f"{root}/{n}"], env=env, capture_output=True).stdout
        for n in names
    }


@pytest.fixture
def src(no_cron_package: NoCronBed) -> Iterator[Path]:
    """A tree to back up in the server user's home, owned by that user (removed after)."""
    login = no_cron_package.sudo
    path = login.home / f"t-{secrets.token_hex(4)}"
    path.mkdir()
    (path / "x.txt").write_text("from the cron apt installed")
    chown(path, login.user)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _scheduled_job(bed: NoCronBed, s3: LocalS3, bucket: str, server: str, src: Path) -> None:
    """A job backing up ``src`` every minute; the server's rclone where the runner looks.

    Added while cron is missing, as a user does who reads the banner after adding a job:
    its deploy can write no crontab line and says Install Cron is what schedules it.
    """
    login = bed.sudo
    rclone = login.home / ".ctrlops/bin/rclone"
    rclone.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(sys.executable).parent / "rclone", rclone)
    chown(login.home / ".ctrlops", login.user)
    destinations.add(
        DestinationSpec(
            name="store",
            provider="minio",
            bucket=bucket,
            endpoint=s3.endpoint,
            access_key_id=s3.rw.access_key_id,
        ),
        s3.rw.secret_access_key,
    )
    info = jobs.spec(
        "minutely",
        server=server,
        sources=[str(src)],
        dest="store",
        schedule_expr="* * * * *",
        options={"stats_interval": "1s"},
    )
    added = run(jobs.add(info))
    assert added["warnings"] == [
        "cron is not installed on the server: only manual runs will happen "
        f"(`ctrlops server fix {server} install-cron`)"
    ]


def test_install_cron_installs_debians_package_and_its_cron_runs_a_scheduled_backup(
    no_cron_package: NoCronBed, s3: LocalS3, bucket: str, src: Path
) -> None:
    bed = no_cron_package
    name = "web"
    servers.add(
        parse_spec(
            name=name, host=bed.host, port=bed.port, user=bed.sudo.user, key=str(bed.sudo.key)
        )
    )
    _scheduled_job(bed, s3, bucket, name, src)
    before = run(servers.check(name))
    assert "cron_missing" in _ids(before)
    assert before["facts"]["sudo"] == "passwordless"
    assert not before["facts"].get("crontab") and not before["facts"].get("cron_daemon")
    assert _on_server(name, "dpkg-query -W -f='${Status}' cron 2>&1") != "install ok installed"
    assert _crons(bed) == []

    status, first = ctrlops_json("server", "fix", name, "install-cron")

    assert status == 0, first
    assert first["error"] is None and first["manual"] is None, first
    assert first["ran"] == [INSTALL, "sudo -n cron", "deploy minutely"]
    assert first["changed"] is True and first["fixed"] is True
    # No cron banner left, and no "schedule changed outside ctrlops" for the job either.
    left = {"cron_missing", "cron_stopped", "crontab_drift"} & set(_ids(first["check"]))
    assert not left, first["check"]["banners"]
    facts = first["check"]["facts"]
    assert (facts["crontab"], facts["cron_daemon"]) == ("/usr/bin/crontab", "/usr/sbin/cron")
    assert facts["cron_running"] == "cron"
    assert _on_server(name, "dpkg-query -W -f='${Status}' cron") == "install ok installed"
    assert "ctrlops-run" in _on_server(name, "crontab -l")
    daemons = _crons(bed)
    assert len(daemons) == 1, daemons

    # Pressed again: nothing to install, start or deploy; the same daemon keeps running.
    status, second = ctrlops_json("server", "fix", name, "install-cron")

    assert status == 0, second
    assert second["changed"] is False and second["ran"] == [] and second["manual"] is None
    assert second["reason"] == "crontab and the cron daemon are installed"
    assert second["fixed"] is True and second["error"] is None
    assert _crons(bed) == daemons

    # The freshly installed daemon fires the job's crontab line at the next minute.
    deadline = time.monotonic() + CRON_WAIT
    last = None
    while time.monotonic() < deadline:
        last = run(jobs.status("minutely"))["last_run"]
        if last and last["trigger"] == "cron" and last["state"] != "running":
            break
        time.sleep(2)
    assert last is not None and last["trigger"] == "cron", last
    assert last["state"] == "success", last
    assert _objects(s3, bucket) == {f"current{src}/x.txt": b"from the cron apt installed"}
