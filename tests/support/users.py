"""pytest plugin: dedicated login users with and without passwordless sudo, on their own sshd.

Root only (CI): users are created with ``useradd`` and removed again at teardown, the
sudoers drop-in too. Also owns this machine's cron daemon for tests that need it stopped.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.sshd import IS_ROOT, SSHD, authorize, ensure_user, free_port, keygen, start_sshd

SUDO_USER = "ctrlops-sudo"
NOSUDO_USER = "ctrlops-nosudo"
SUDOERS = Path("/etc/sudoers.d/ctrlops-test-sudo")
CRON = shutil.which("cron") or "/usr/sbin/cron"


@dataclass(frozen=True)
class Login:
    user: str
    home: Path
    key: Path


@dataclass(frozen=True)
class UsersBed:
    host: str
    port: int
    sudo: Login  # passwordless sudo
    nosudo: Login  # sudo asks for a password it does not have


def _pids(*args: str) -> set[int]:
    out = subprocess.run(["pgrep", *args], capture_output=True, text=True, check=False).stdout
    return {int(p) for p in out.split()}


def _kill(pids: set[int], sig: int = signal.SIGTERM) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _wait_gone(pids: set[int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while pids & _pids("-x", "cron") and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture(scope="session")
def users(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UsersBed]:
    """An sshd on loopback for ``ctrlops-sudo`` and ``ctrlops-nosudo``."""
    if not IS_ROOT:
        pytest.skip("creating users and a sudoers drop-in needs root (CI runs as root)")
    if shutil.which("sudo") is None or shutil.which("visudo") is None:
        pytest.skip("sudo is not installed (apt-get install -y sudo)")
    work = tmp_path_factory.mktemp("users-sshd")
    work.chmod(0o755)
    created = [u for u in (SUDO_USER, NOSUDO_USER) if not _exists(u)]
    logins: dict[str, Login] = {}
    for user in (SUDO_USER, NOSUDO_USER):
        home = ensure_user(user)
        key = keygen(work / f"{user}_ed25519")
        authorize(user, home, (work / f"{user}_ed25519.pub").read_text(), None)
        logins[user] = Login(user, home, key)
    SUDOERS.parent.mkdir(mode=0o750, exist_ok=True)
    tmp = work / "sudoers"
    tmp.write_text(f"{SUDO_USER} ALL=(ALL) NOPASSWD: ALL\n")
    subprocess.run(["visudo", "-cqf", str(tmp)], check=True)  # a broken drop-in locks sudo
    tmp.chmod(0o440)
    shutil.copy2(tmp, SUDOERS)
    port = free_port()
    proc, _, _ = start_sshd(work, [port], None)
    try:
        yield UsersBed("127.0.0.1", port, logins[SUDO_USER], logins[NOSUDO_USER])
    finally:
        proc.terminate()
        proc.wait(10)
        SUDOERS.unlink(missing_ok=True)
        for user in (SUDO_USER, NOSUDO_USER):  # leave nothing running as the test users
            _kill(_pids("-u", user), signal.SIGKILL)
        for user in created:
            subprocess.run(["userdel", "--remove", user], capture_output=True, check=False)


def _exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
    except KeyError:
        return False
    return True


def reset_ctrlops_dir(login: Login) -> None:
    """Remove the user's ~/.ctrlops, as on a server ctrlops never touched."""
    shutil.rmtree(login.home / ".ctrlops", ignore_errors=True)


@pytest.fixture
def cron_stopped() -> Iterator[None]:
    """This machine's cron daemon stopped for the test; as it was afterwards."""
    if shutil.which("pgrep") is None or not Path(CRON).exists():
        pytest.skip("Debian's cron is not installed (apt-get install -y cron)")
    before = _pids("-x", "cron")
    _kill(before)
    _wait_gone(before)
    try:
        yield
    finally:
        started = _pids("-x", "cron")
        if before and not started:
            subprocess.run([CRON], check=True)
        elif not before:  # the test's own daemon
            _kill(started)
            _wait_gone(started)


# Bind-mounts an empty, non-executable file over each path given, then becomes sshd: inside
# this mount namespace cron is truly not installed, outside it nothing changes.
_HIDE_AND_EXEC = r"""
hidden=$1 sshd=$2 config=$3 log=$4
shift 4
for p in "$@"; do mount --bind "$hidden" "$p" || exit 1; done
exec "$sshd" -D -f "$config" -E "$log"
"""


@pytest.fixture(scope="session")
def cronless(users: UsersBed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UsersBed]:
    """The same users on an sshd that sees no cron daemon and no crontab binary."""
    binaries = [shutil.which(b, path="/usr/sbin:/usr/bin:/sbin:/bin") for b in ("cron", "crontab")]
    if shutil.which("unshare") is None or None in binaries:
        pytest.skip("needs unshare(1) and Debian's cron to hide")
    work = tmp_path_factory.mktemp("cronless-sshd")
    work.chmod(0o755)
    port = free_port()
    # start_sshd writes the config and host key; the daemon itself is restarted below.
    first, log, _ = start_sshd(work, [port], None)
    first.terminate()
    first.wait(10)
    hidden = work / "not-installed"
    hidden.touch(mode=0o644)
    proc = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", _HIDE_AND_EXEC, "hide"]
        + [str(hidden), SSHD, str(work / "sshd_config"), str(log)]
        + [os.path.realpath(str(b)) for b in binaries]
    )
    deadline = time.monotonic() + 20
    while not _listening(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.skip(f"cannot start sshd in a private mount namespace: {log.read_text()}")
        time.sleep(0.05)
    try:
        yield UsersBed("127.0.0.1", port, users.sudo, users.nosudo)
    finally:
        proc.terminate()
        proc.wait(10)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0
