"""pytest plugin: a real OpenSSH sshd on a loopback port, with generated keys and users.

As root (CI) it creates a dedicated test user; as an ordinary user it runs sshd
unprivileged for the current user, so the suite also works on a developer's laptop.
"""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
IS_ROOT = os.geteuid() == 0
# One user per test session: concurrent sessions on one machine (a developer's and CI's)
# must not overwrite each other's authorized_keys, crontab or processes.
TEST_USER = f"ctrlops-t{os.getpid()}"


@dataclass(frozen=True)
class SSHBed:
    host: str
    port: int
    user: str
    key: Path  # private key accepted for ``user``
    other_key: Path  # a valid key the server does not accept
    host_pubkey: str  # the server's host key, OpenSSH format
    home: Path  # ``user``'s home directory
    log: Path
    proc: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def keygen(path: Path, passphrase: str = "") -> Path:
    subprocess.run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            passphrase,
            "-C",
            "ctrlops-test",
            "-f",
            str(path),
        ],
        check=True,
    )
    return path


def ensure_user(name: str) -> Path:
    """Create ``name`` (root only) with a home, unlocked for key logins; return its home."""
    try:
        return Path(pwd.getpwnam(name).pw_dir)
    except KeyError:
        pass
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True)
    # useradd leaves the account locked ("!"): sshd refuses even key logins for it.
    subprocess.run(["usermod", "-p", "*", name], check=True)
    return Path(pwd.getpwnam(name).pw_dir)


def authorize(user: str, home: Path, pubkey: str, keys_file: Path | None) -> None:
    if keys_file is not None:
        keys_file.write_text(pubkey)
        keys_file.chmod(0o600)
        return
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(pubkey)
    (ssh_dir / "authorized_keys").chmod(0o600)
    shutil.chown(ssh_dir, user, user)
    shutil.chown(ssh_dir / "authorized_keys", user, user)


def start_sshd(
    workdir: Path,
    ports: list[int],
    authorized_keys: Path | None,
    extra_config: list[str] | None = None,
) -> tuple[subprocess.Popen[bytes], Path, str]:
    """Start one sshd listening on ``ports`` (at most 16); return (process, log, host key).

    ``extra_config`` lines are appended to sshd_config (e.g. ``SetEnv`` for the sessions).
    """
    host_key = keygen(workdir / "host_ed25519")
    log = workdir / "sshd.log"
    lines = [f"Port {p}" for p in ports] + [
        "ListenAddress 127.0.0.1",
        f"HostKey {host_key}",
        f"PidFile {workdir / 'sshd.pid'}",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "MaxStartups 200:30:400",
        "MaxSessions 100",
        "LogLevel VERBOSE",
        "Subsystem sftp internal-sftp",
    ]
    if authorized_keys is not None:
        lines += [f"AuthorizedKeysFile {authorized_keys}", "StrictModes no"]
    lines += extra_config or []
    config = workdir / "sshd_config"
    config.write_text("\n".join(lines) + "\n")
    if IS_ROOT:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
    # Absolute -f/-E paths: sshd chdirs to / and re-executes itself per connection.
    proc = subprocess.Popen([SSHD, "-D", "-f", str(config), "-E", str(log)])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {log.read_text(errors='replace')}")
        if all(_listening(p) for p in ports):
            return proc, log, (workdir / "host_ed25519.pub").read_text().strip()
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"sshd did not listen: {log.read_text(errors='replace')}")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SSHBed]:
    """The session's sshd and a user that logs in with ``.key``."""
    work = tmp_path_factory.mktemp("sshd")
    work.chmod(0o755)
    key = keygen(work / "id_ed25519")
    other = keygen(work / "other_ed25519")
    key.chmod(0o600)
    pubkey = (work / "id_ed25519.pub").read_text()
    if IS_ROOT:
        user, home, keys_file = TEST_USER, ensure_user(TEST_USER), None
    else:
        user, home, keys_file = getpass.getuser(), Path.home(), work / "authorized_keys"
    authorize(user, home, pubkey, keys_file)
    port = free_port()
    proc, log, host_pubkey = start_sshd(work, [port], keys_file)
    yield SSHBed("127.0.0.1", port, user, key, other, host_pubkey, home, log, proc)
    proc.terminate()
    proc.wait(10)
    if IS_ROOT:  # leave nothing running, and no user, behind
        subprocess.run(["pkill", "-KILL", "-u", user], check=False)
        subprocess.run(["crontab", "-r", "-u", user], capture_output=True, check=False)
        subprocess.run(["userdel", "--remove", "--force", user], capture_output=True, check=False)
