"""Banners raised by real conditions on a real server, and cleared by their fixes.

A server whose clock is off (libfaketime in its SSH sessions), whose timezone changed (a
private mount namespace with another /etc/localtime), whose ~/.ctrlops is nearly full (a
small tmpfs), and a destination whose key the real S3 server refuses.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from ctrlops.health.probes import CREDENTIAL_CATEGORIES
from ctrlops.server.spec import parse_spec
from ctrlops.services import health, jobs, servers
from ctrlops.store.db import session
from ctrlops.store.models import Server
from tests.support.cli import ctrlops, ctrlops_json
from tests.support.jobs import Bed, add_job, chown, run
from tests.support.sshd import IS_ROOT, SSHD, SSHBed, free_port, start_sshd

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
ZONEINFO = Path("/usr/share/zoneinfo")


def banners(check: dict[str, Any], bid: str) -> list[dict[str, Any]]:
    assert check["ok"], check
    return [b for b in check["banners"] if b["id"] == bid]


def _listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while not _answers(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"sshd did not listen: {log.read_text(errors='replace')}")
        time.sleep(0.05)


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _keys_file(bed: SSHBed) -> Path | None:
    # As root the session user's ~/.ssh/authorized_keys serves; unprivileged, a file.
    return None if IS_ROOT else bed.log.parent / "authorized_keys"


# -- clock skew ---------------------------------------------------------------------------


@pytest.fixture
def skewed_port(sshd: SSHBed, tmp_path: Path) -> Iterator[int]:
    """A second sshd for the same user whose sessions see a clock 10 minutes ahead."""
    if not LIBFAKETIME.exists():
        pytest.skip("libfaketime is not installed (apt-get install -y faketime)")
    work = tmp_path / "skewed-sshd"
    work.mkdir()
    work.chmod(0o755)
    port = free_port()
    extra = [f"SetEnv LD_PRELOAD={LIBFAKETIME} FAKETIME=+10m"]
    proc, _, _ = start_sshd(work, [port], _keys_file(sshd), extra_config=extra)
    try:
        yield port
    finally:
        _stop(proc)


def test_a_server_clock_ten_minutes_ahead_is_a_clock_skew_banner(
    bed: Bed, skewed_port: int
) -> None:
    servers.add(
        parse_spec(
            name="skewed",
            host=bed.sshd.host,
            port=skewed_port,
            user=bed.sshd.user,
            key=str(bed.sshd.key),
        )
    )

    status, check = ctrlops_json("server", "check", "skewed")

    assert status == 0, check
    assert 595 <= check["facts"]["clock_offset"] <= 605, check["facts"]
    (b,) = banners(check, "clock_skew")
    assert b["severity"] == "warning"
    assert re.fullmatch(r"Server clock is off by \+(59[5-9]|60[0-5]) s", b["text"])
    assert "ahead by 10 min" in b["evidence"] and "measured over SSH" in b["evidence"]
    # The same user through the normal sshd: the real clock, no banner.
    normal = run(servers.check(bed.server))
    assert abs(normal["facts"]["clock_offset"]) <= 2
    assert banners(normal, "clock_skew") == []


def test_a_backup_from_the_skewed_server_still_reaches_s3(bed: Bed, skewed_port: int) -> None:
    # libfaketime moves the clock of every dynamically linked program in the session (sh,
    # date: the run records), but rclone is a static Go binary that reads the real clock:
    # its S3 signatures carry the true time, so this skew cannot reach SeaweedFS. The run
    # must therefore work, or else be diagnosed as clock skew, never as something else.
    servers.add(
        parse_spec(
            name="skewed",
            host=bed.sshd.host,
            port=skewed_port,
            user=bed.sshd.user,
            key=str(bed.sshd.key),
        )
    )
    src = bed.tree()
    (src / "a.txt").write_text("alpha")
    chown(src, bed.sshd.user)
    info = jobs.spec("site", server="skewed", sources=[str(src)], dest=bed.dest)
    run(jobs.add(info))

    result = run(jobs.run_now("site", wait=True))

    if result["state"] != "success":
        assert (result["diagnosis"] or {}).get("category") == "clock_skew", result
    else:
        assert bed.objects(f"current{src}") == {"a.txt": b"alpha"}
        # The run record was written by the skewed `date`: it starts in the future.
        assert result["started"] > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())


# -- timezone -----------------------------------------------------------------------------

# Inside a private mount namespace: /etc becomes an overlay whose changes live in a tmpfs,
# the zone is set there as an administrator would, then this shell becomes sshd. Outside
# the namespace nothing changes. "relink" is `timedatectl set-timezone` / `ln -sf`: only
# the /etc/localtime symlink moves and /etc/timezone keeps the old name; "both" is
# `dpkg-reconfigure tzdata`, which rewrites both.
_ZONE_AND_EXEC = r"""
zone=$1 how=$2 scratch=$3 sshd=$4 config=$5 log=$6
mount -t tmpfs ctrlops-test "$scratch" && mkdir "$scratch/upper" "$scratch/work" &&
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$scratch/upper,workdir=$scratch/work" /etc &&
ln -sf "/usr/share/zoneinfo/$zone" /etc/localtime || exit 1
[ "$how" = relink ] || echo "$zone" > /etc/timezone || exit 1
exec "$sshd" -D -f "$config" -E "$log"
"""


@contextlib.contextmanager
def sshd_in_zone(bed: SSHBed, zone: str, how: str, work: Path) -> Iterator[int]:
    """The session's sshd again (same host key and users) on a new port, in ``zone``."""
    if not IS_ROOT or shutil.which("unshare") is None:
        pytest.skip("a private mount namespace needs root and unshare(1)")
    work.mkdir()
    work.chmod(0o755)
    (work / "scratch").mkdir()
    port = free_port()
    config = (bed.log.parent / "sshd_config").read_text()
    config = re.sub(r"(?m)^Port \d+$", f"Port {port}", config)
    config = re.sub(r"(?m)^PidFile .*$", f"PidFile {work / 'sshd.pid'}", config)
    (work / "sshd_config").write_text(config)
    log = work / "sshd.log"
    unshare = ["unshare", "--mount", "--propagation", "private", "sh", "-c", _ZONE_AND_EXEC]
    args = [zone, how, str(work / "scratch"), SSHD, str(work / "sshd_config"), str(log)]
    proc = subprocess.Popen([*unshare, "zone", *args])
    try:
        _listening(port, proc, log)
        yield port
    finally:
        _stop(proc)


def move_server(name: str, port: int) -> None:
    """The stored server now answers on ``port`` (same host, same host key)."""
    with session() as s:
        s.execute(update(Server).where(Server.name == name).values(port=port))


@pytest.mark.parametrize("how", ["both", "relink"])
def test_a_timezone_change_is_a_banner_and_redeploy_records_the_new_zone(
    bed: Bed, tmp_path: Path, how: str
) -> None:
    add_job(bed, "site", [bed.tree()], schedule_expr="0 2 * * *")
    before = jobs.get("site").timezone
    assert before is not None
    assert (ZONEINFO / before).read_bytes() == Path("/etc/localtime").read_bytes()
    assert banners(run(servers.check(bed.server)), "timezone_changed") == []
    utc_port = bed.sshd.port

    with sshd_in_zone(bed.sshd, "America/New_York", how, tmp_path / "ny-sshd") as port:
        move_server(bed.server, port)
        status, check = ctrlops_json("server", "check", bed.server)

        assert status == 0, check
        assert check["facts"]["timezone"] == "America/New_York"
        assert check["facts"]["utc_offset"] in ("-0500", "-0400")
        (b,) = banners(check, "timezone_changed")
        assert b["fix"] == "redeploy" and b["severity"] == "warning"
        assert f"site (0 2 * * *) scheduled in {before}" in b["evidence"]
        assert "now fires in America/New_York" in b["evidence"]

        fixed = run(health.apply_fix(bed.server, "redeploy"))

        assert fixed["changed"] and fixed["fixed"], fixed
        assert fixed["ran"] == ["deploy site"]
        assert banners(fixed["check"], "timezone_changed") == []
        assert jobs.get("site").timezone == "America/New_York"
        assert run(jobs.status("site"))["timezone"] == "America/New_York"

    # Back on the UTC server, the job is now the one in another zone.
    move_server(bed.server, utc_port)
    (back,) = banners(run(servers.check(bed.server)), "timezone_changed")
    assert "site (0 2 * * *) scheduled in America/New_York" in back["evidence"]


# -- disk low -----------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(path: Path, user: str, size: str = "8m") -> Iterator[Path]:
    """A ``size`` tmpfs mounted over ``path`` for ``user``; unmounted afterwards."""
    if not IS_ROOT:
        pytest.skip("mounting a tmpfs needs root")
    pw = pwd.getpwnam(user)
    opts = f"size={size},uid={pw.pw_uid},gid={pw.pw_gid},mode=700"
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "ctrlops-test", str(path)], check=True)
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], check=True)


def test_a_nearly_full_ctrlops_disk_is_a_banner_until_space_is_freed(bed: Bed) -> None:
    home = bed.sshd.home / ".ctrlops"
    with small_disk(home, bed.sshd.user):
        check = run(servers.check(bed.server))
        assert check["facts"]["disk_mount"] == str(home)
        assert check["facts"]["disk_size_kb"] == 8192
        assert banners(check, "disk_low") == []  # an empty 8 MiB volume is not "full"

        filler = home / "filler"
        with filler.open("wb") as f:
            f.write(os.urandom(7 * 1024 * 1024 + 800 * 1024))
        status, full = ctrlops_json("server", "check", bed.server)

        assert status == 0, full
        free = full["facts"]["disk_free_kb"]
        assert free < 4096
        (b,) = banners(full, "disk_low")
        assert b["severity"] == "error"
        assert (
            f"free of 8.0 MiB, {full['facts']['disk_used_pct']}% used on {home}" in (b["evidence"])
        )
        assert "under 4 MiB free, or under 200 MiB once 90% is used" in b["evidence"]

        filler.unlink()
        assert banners(run(servers.check(bed.server)), "disk_low") == []
    assert (home / "bin" / "rclone").exists()  # the real ~/.ctrlops is back


# -- destination credentials -------------------------------------------------------------


def set_secret(name: str, secret: str) -> dict[str, Any]:
    status, out = ctrlops_json("dest", "edit", name, "--secret-stdin", input=secret + "\n")
    assert status == 0, out
    return dict(out)


def test_a_refused_key_at_test_connection_is_a_banner_until_a_test_passes(bed: Bed) -> None:
    add_job(bed, "site", [bed.tree()])
    assert banners(run(servers.check(bed.server)), "dest_credentials") == []

    edited = set_secret(bed.dest, "not-the-secret")
    assert edited["redeployed"] == ["site"] and edited["failed"] == []
    assert "not-the-secret" not in str(edited)
    status, tested = ctrlops_json("dest", "test", bed.dest, "--server", bed.server)
    assert status == 1 and tested["category"] == "auth_secret", tested

    status, check = ctrlops_json("server", "check", bed.server)
    (b,) = banners(check, "dest_credentials")
    assert b["severity"] == "error" and b["fix"] is None
    assert f"Destination {bed.dest} refuses its credentials" in b["text"]
    assert f"Test Connection from {bed.server} failed on " in b["evidence"]
    assert "(auth_secret)" in b["evidence"]
    assert f"`ctrlops dest edit {bed.dest} --secret-stdin`" in b["evidence"]
    assert f"`ctrlops dest test {bed.dest} --server {bed.server}`" in b["evidence"]

    set_secret(bed.dest, bed.s3.rw.secret_access_key)
    # A new key is not yet a working key: the banner waits for the proof.
    assert len(banners(run(servers.check(bed.server)), "dest_credentials")) == 1
    status, tested = ctrlops_json("dest", "test", bed.dest, "--server", bed.server)
    assert status == 0, tested
    assert banners(run(servers.check(bed.server)), "dest_credentials") == []


def test_a_run_refused_by_s3_is_a_banner_until_a_run_succeeds(bed: Bed) -> None:
    src = bed.tree()
    (src / "a.txt").write_text("alpha")
    chown(src, bed.sshd.user)
    add_job(bed, "site", [src])
    set_secret(bed.dest, "not-the-secret")  # redeployed: the server now holds the bad key

    failed = run(jobs.run_now("site", wait=True))

    assert failed["state"] == "failed", failed
    # rclone's log of a refused HEAD carries no S3 error code: the diagnosis can only say
    # "refused" (access_denied), which is a credentials failure all the same.
    assert failed["diagnosis"]["category"] in CREDENTIAL_CATEGORIES, failed
    (b,) = banners(run(servers.check(bed.server)), "dest_credentials")
    assert f"run {failed['id']} of job site failed on " in b["evidence"]

    secret = bed.s3.rw.secret_access_key + "\n"
    fixed = ctrlops("dest", "edit", bed.dest, "--secret-stdin", input=secret)
    assert fixed.returncode == 0, fixed.stderr
    assert "redeployed job site" in fixed.stdout
    assert run(jobs.run_now("site", wait=True))["state"] == "success"
    assert banners(run(servers.check(bed.server)), "dest_credentials") == []
    assert bed.objects(f"current{src}") == {"a.txt": b"alpha"}


def test_dest_edit_refuses_bad_input_naming_the_field(bed: Bed) -> None:
    r = ctrlops("dest", "edit", bed.dest, "--keep-secret")
    assert r.returncode == 2 and "--keep-secret" in r.stderr + r.stdout
    r = ctrlops("dest", "edit", bed.dest, "--secret-stdin", input="\n")
    assert r.returncode == 2 and "secret_access_key" in r.stderr + r.stdout
    r = ctrlops("dest", "edit", bed.dest, "--access-key-id", "bad\nkey", "--keep-secret")
    assert r.returncode == 2 and "access_key_id" in r.stderr + r.stdout
    # Nothing was changed: the stored key still works.
    status, tested = ctrlops_json("dest", "test", bed.dest, "--server", bed.server)
    assert status == 0, tested
