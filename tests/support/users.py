"""pytest plugin: dedicated login users with and without passwordless sudo, on their own sshd.

Root only (CI): users are created with ``useradd`` and removed again at teardown, the
sudoers drop-in too. Also owns this machine's cron daemon for tests that need it stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
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


# Directories dpkg and apt write while (un)installing cron, each overlaid on a tmpfs inside
# the namespace: the purge and the later install change only the namespace's view.
# /var/lib/man-db too, to switch off man-db's index rebuild (seconds per dpkg run).
OVERLAID = (
    "/usr",
    "/etc",
    "/var/lib/dpkg",
    "/var/lib/apt",
    "/var/lib/man-db",
    "/var/cache/apt",
    "/var/log",
    "/var/spool/cron",
)

# Runs as PID 1 of a new PID and mount namespace: overlays, a private /run (cron's pid
# file, sudo's timestamps), cron purged, apt pointed at the local repository only and a
# cron daemon's view emptied of every other crontab; then becomes sshd. Killing it ends
# every process started inside, the cron it installs included, and with them the mounts.
_PURGE_CRON_AND_EXEC = r"""
set -eu
upper=$1 repo=$2 sshd=$3 config=$4 log=$5
shift 5
mount -t tmpfs -o mode=0755 ctrlops-no-cron "$upper"
for d in "$@"; do
  n=$(printf '%s' "$d" | tr / _)
  mkdir -p "$upper/$n/upper" "$upper/$n/work"
  mount -t overlay overlay -o "lowerdir=$d,upperdir=$upper/$n/upper,workdir=$upper/$n/work" "$d"
done
mount -t tmpfs -o mode=0755 ctrlops-run /run
mkdir -p /run/sshd /run/lock
rm -f /var/lib/man-db/auto-update
dpkg --purge --force-depends cron
rm -f /var/spool/cron/crontabs/* /etc/cron.d/*
printf '# emptied for the test: its cron only runs the test user crontab\n' > /etc/crontab
rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*
printf 'deb [trusted=yes] file:%s ./\n' "$repo" > /etc/apt/sources.list.d/ctrlops-test.list
# The repository sits under a root-only directory: no _apt sandbox for reading it.
printf 'APT::Sandbox::User "root";\n' > /etc/apt/apt.conf.d/99ctrlops-test
rm -rf /var/lib/apt/lists/*
apt-get update -qq
exec "$sshd" -D -f "$config" -E "$log"
"""


def cron_deb() -> Path | None:
    """Debian's cron package in apt's cache (`.ci/run` downloads it), or None."""
    debs = sorted(Path("/var/cache/apt/archives").glob("cron_*.deb"))
    return debs[-1] if debs else None


def local_repository(deb: Path, repo: Path) -> Path:
    """A flat apt repository in ``repo`` holding only ``deb``: what apt needs, no network."""
    repo.mkdir(mode=0o755, parents=True)
    shutil.copy2(deb, repo / deb.name)
    data = deb.read_bytes()
    control = subprocess.run(
        ["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True
    ).stdout.rstrip("\n")
    stanza = "\n".join(
        [
            control,
            f"Filename: ./{deb.name}",
            f"Size: {len(data)}",
            f"MD5sum: {hashlib.md5(data).hexdigest()}",
            f"SHA256: {hashlib.sha256(data).hexdigest()}",
        ]
    )
    (repo / "Packages").write_text(stanza + "\n")
    return repo


def _pid_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def ns_pids(ns: str) -> set[int]:
    """Every process of this machine inside the PID namespace ``ns`` (host PIDs)."""
    pids = (int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit())
    return {pid for pid in pids if _pid_ns(pid) == ns}


@dataclass(frozen=True)
class NoCronBed:
    host: str
    port: int
    sudo: Login  # passwordless sudo: Install Cron can run apt-get
    ns: str  # the PID namespace sshd and everything it starts live in
    log: Path


@pytest.fixture
def no_cron_package(users: UsersBed, tmp_path: Path) -> Iterator[NoCronBed]:
    """An sshd for the same users on a "server" where Debian's cron package is not installed.

    Unlike :func:`cronless`, which hides two binaries, dpkg itself says cron is absent and
    ``apt-get install cron`` really installs it, from a local repository holding Debian's
    cron .deb. Everything lives in a private mount and PID namespace: this machine's cron,
    packages and crontabs are untouched, and a cron started inside sees only the test's
    crontab. Function-scoped: each test starts from a server without cron.
    """
    deb = cron_deb()
    if deb is None:
        pytest.skip(
            "Debian's cron .deb is not in apt's cache (apt-get install --reinstall -d cron)"
        )
    tools = ("unshare", "dpkg", "dpkg-deb", "apt-get")
    if any(shutil.which(t) is None for t in tools) or not Path(CRON).exists():
        pytest.skip(f"needs {', '.join(tools)} and Debian's cron installed on this machine")
    work = tmp_path / "no-cron-sshd"
    work.mkdir()
    repo = local_repository(deb, work / "repo")
    upper = work / "upper"
    upper.mkdir()
    port = free_port()
    first, log, _ = start_sshd(work, [port], None)  # writes the config and the host key
    first.terminate()
    first.wait(10)
    setup_log = work / "setup.log"
    with setup_log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *("unshare", "--mount", "--pid", "--kill-child", "--mount-proc"),
                *("--propagation", "private", "sh", "-c", _PURGE_CRON_AND_EXEC, "no-cron"),
                *(str(upper), str(repo), SSHD, str(work / "sshd_config"), str(log), *OVERLAID),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    ns = ""
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"no sshd without cron: {setup_log.read_text()}")
            time.sleep(0.05)
        init = _pids("-P", str(proc.pid))  # the namespace's PID 1: sshd
        assert len(init) == 1, init
        ns = _pid_ns(next(iter(init))) or ""
        yield NoCronBed("127.0.0.1", port, users.sudo, ns, log)
    finally:
        # unshare ignores SIGTERM while it waits; SIGKILL makes --kill-child SIGKILL the
        # namespace's PID 1, and the kernel then kills every process inside.
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 10
        while ns and ns_pids(ns) and time.monotonic() < deadline:
            time.sleep(0.05)
        reset_ctrlops_dir(users.sudo)
        assert not ns or not ns_pids(ns), f"left running: {ns_pids(ns)}"
