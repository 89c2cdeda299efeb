"""Banners' one-click fixes against a real sshd, this machine's real cron and sudo."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ctrlops.health.probes import MIN_RCLONE, rclone_version
from ctrlops.remote.exec import execute
from ctrlops.remote.local import LocalRemote
from ctrlops.remote.upload import upload
from ctrlops.server.spec import parse_spec
from ctrlops.services import health, servers
from tests.support.cli import ctrlops_json
from tests.support.users import Login, UsersBed, reset_ctrlops_dir

DEBIAN_RCLONE_DEB = sorted(Path("/var/cache/apt/archives").glob("rclone_1.60*_*.deb"))


def _add(bed: UsersBed, login: Login, name: str) -> str:
    servers.add(
        parse_spec(name=name, host=bed.host, port=bed.port, user=login.user, key=str(login.key))
    )
    return name


def _ids(check: dict[str, Any]) -> list[str]:
    assert check["ok"], check
    return [b["id"] for b in check["banners"]]


async def _check(name: str) -> dict[str, Any]:
    try:
        return await servers.check(name)
    finally:
        await servers.close_all()


async def _fix(name: str, action: str) -> dict[str, Any]:
    try:
        return await health.apply_fix(name, action)
    finally:
        await servers.close_all()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cron_pids() -> list[str]:
    return subprocess.run(["pgrep", "-x", "cron"], capture_output=True, text=True).stdout.split()


def test_it_uploads_rclone_without_root_and_clears_the_banner(users: UsersBed) -> None:
    login = users.nosudo
    reset_ctrlops_dir(login)
    name = _add(users, login, "nosudo")
    # Cron's PATH on this machine has no rclone (the control plane's lives in .venv/bin).
    assert "rclone_missing" in _ids(asyncio.run(_check(name)))

    first = asyncio.run(_fix(name, "install-rclone"))

    assert first["changed"] is True and first["fixed"] is True and first["error"] is None
    assert first["ran"][0].endswith("(sftp)")
    assert "rclone_missing" not in _ids(first["check"])
    target = login.home / ".ctrlops/bin/rclone"
    assert first["check"]["facts"]["rclone"] == str(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert _sha256(target) == _sha256(health.local_rclone())

    async def version_on_server() -> str:
        try:
            async with servers.open_remote(name) as remote:
                return (
                    await execute(remote, ["sh", "-c", '"$HOME/.ctrlops/bin/rclone" version'])
                ).stdout
        finally:
            await servers.close_all()

    assert rclone_version(asyncio.run(version_on_server())) is not None

    # The second run, as a user would click it: nothing to do.
    status, second = ctrlops_json("server", "fix", name, "install-rclone")
    assert status == 0, second
    assert second["action"] == "install-rclone"
    assert second["changed"] is False and second["ran"] == [] and second["manual"] is None
    assert "rclone_missing" not in [b["id"] for b in second["check"]["banners"]]


def test_it_reuploads_over_a_broken_binary_but_not_over_an_identical_one(users: UsersBed) -> None:
    login = users.nosudo
    reset_ctrlops_dir(login)
    name = _add(users, login, "nosudo")
    assert asyncio.run(_fix(name, "install-rclone"))["changed"] is True
    target = login.home / ".ctrlops/bin/rclone"
    with target.open("r+b") as f:  # same size, other bytes: no longer the same binary
        f.write(b"#!/bin/sh\necho 'rclone v1.0.0'\nexit 0\n")
    assert "rclone_missing" in _ids(asyncio.run(_check(name)))

    again = asyncio.run(_fix(name, "install-rclone"))

    assert again["changed"] is True and again["fixed"] is True
    assert _sha256(target) == _sha256(health.local_rclone())


@pytest.mark.skipif(
    not DEBIAN_RCLONE_DEB,
    reason="Debian's rclone .deb is not in the apt cache (apt-get install --download-only rclone)",
)
def test_it_accepts_debians_rclone_at_the_version_floor(users: UsersBed, tmp_path: Path) -> None:
    # Debian 12 ships rclone 1.60.1, exactly MIN_RCLONE: it has every flag and the JSON
    # stats the runner uses. Extracted, not installed, so no other test sees it in PATH.
    subprocess.run(["dpkg-deb", "-x", str(DEBIAN_RCLONE_DEB[-1]), str(tmp_path)], check=True)
    login = users.nosudo
    reset_ctrlops_dir(login)
    bindir = login.home / ".ctrlops/bin"
    bindir.mkdir(parents=True)
    shutil.copy2(tmp_path / "usr/bin/rclone", bindir / "rclone")
    shutil.chown(login.home / ".ctrlops", login.user, login.user)
    shutil.chown(bindir, login.user, login.user)
    shutil.chown(bindir / "rclone", login.user, login.user)
    name = _add(users, login, "nosudo")

    check = asyncio.run(_check(name))

    assert rclone_version(check["facts"]["rclone_version"]) == MIN_RCLONE
    assert "rclone_missing" not in _ids(check)
    result = asyncio.run(_fix(name, "install-rclone"))
    assert result["changed"] is False and result["ran"] == []


def test_it_starts_a_stopped_cron_with_passwordless_sudo_only(
    users: UsersBed, cron_stopped: None
) -> None:
    sudo = _add(users, users.sudo, "sudo")
    nosudo = _add(users, users.nosudo, "nosudo")
    assert "cron_stopped" in _ids(asyncio.run(_check(sudo)))

    status, refused = ctrlops_json("server", "fix", nosudo, "start-cron")

    assert status == 1
    assert refused["check"]["facts"]["sudo"] == "password"
    assert refused["manual"] == "sudo cron"  # this machine has no init system
    assert refused["changed"] is False and refused["ran"] == []
    assert "cron_stopped" in [b["id"] for b in refused["check"]["banners"]]
    assert _cron_pids() == []

    started = asyncio.run(_fix(sudo, "start-cron"))

    assert started["ran"] == ["sudo -n cron"] and started["error"] is None
    assert started["changed"] is True and started["fixed"] is True
    assert _cron_pids()
    assert "cron_stopped" not in _ids(started["check"])

    again = asyncio.run(_fix(sudo, "start-cron"))
    assert again["changed"] is False and again["ran"] == [] and again["fixed"] is True
    assert len(_cron_pids()) == 1


def test_it_uploads_to_this_machine_with_a_file_copy(tmp_path: Path) -> None:
    target = tmp_path / "bin" / "rclone"

    how = asyncio.run(upload(LocalRemote(), health.local_rclone(), str(target)))

    assert how == "copy"
    assert _sha256(target) == _sha256(health.local_rclone())
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert [p.name for p in target.parent.iterdir()] == ["rclone"]  # no temp file left


def test_it_gives_the_exact_install_command_when_cron_is_missing_and_sudo_needs_a_password(
    cronless: UsersBed,
) -> None:
    name = _add(cronless, cronless.nosudo, "nosudo")
    assert "cron_missing" in _ids(asyncio.run(_check(name)))

    status, result = ctrlops_json("server", "fix", name, "install-cron")

    assert status == 1
    assert result["manual"] == "sudo apt-get install -y cron && sudo cron"
    assert result["changed"] is False and result["ran"] == [] and result["fixed"] is False
    assert "cron_missing" in [b["id"] for b in result["check"]["banners"]]
