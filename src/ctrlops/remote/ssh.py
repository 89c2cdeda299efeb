"""SSH transport (asyncssh) with host keys pinned on first use.

The user's SSH habits are honoured: ``~/.ssh/config`` (aliases, User, Port, IdentityFile,
ProxyJump), ssh-agent, default identities, an explicit key and a jump host.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import shlex
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from ctrlops.errors import ConnectionFailed
from ctrlops.remote import diagnose
from ctrlops.remote.base import Result

DEFAULT_CONNECT_TIMEOUT = 10.0
KEEPALIVE_INTERVAL = 15.0


@dataclass(frozen=True)
class SSHTarget:
    """How to reach one server; ``host_key`` is the pinned key (None = trust on first use)."""

    host: str
    port: int | None = None
    user: str | None = None
    key_path: str | None = None
    jump: str | None = None
    host_key: str | None = None
    timeout: float = DEFAULT_CONNECT_TIMEOUT
    passphrase: str | None = field(default=None, repr=False)
    cloud: str | None = None  # from the last facts seen, for firewall hints


def fingerprint(openssh_key: str) -> str:
    """Return the SHA256 fingerprint of an OpenSSH public key, as ``ssh-keygen -l`` shows it."""
    fp: str = asyncssh.import_public_key(openssh_key).get_fingerprint("sha256")
    return fp


class SSHRemote:
    """One authenticated SSH connection; every command is a new channel on it."""

    def __init__(
        self,
        name: str,
        conn: asyncssh.SSHClientConnection,
        host_key: str,
        on_lost: Callable[[Exception | None], None] | None = None,
    ) -> None:
        self.name = name
        self.conn = conn
        self.host_key = host_key
        self._lost: Exception | None = None
        self._on_lost = on_lost
        self.jump: asyncssh.SSHClientConnection | None = None

    @property
    def connected(self) -> bool:
        return self._lost is None and not self.conn.is_closed()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = exc or ConnectionResetError("closed")
        if self._on_lost:
            self._on_lost(exc)

    async def run(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float
    ) -> Result:
        # Each element is quoted: the remote login shell only splits them back apart.
        command = shlex.join(argv)
        try:
            # No input means end-of-file at once (as the local transport does), so a
            # command that reads stdin (e.g. writing an empty file) never waits forever.
            feed: dict[str, object] = {"input": stdin} if stdin else {"stdin": asyncssh.DEVNULL}
            proc = await self.conn.run(command, encoding=None, check=False, timeout=timeout, **feed)
        except asyncssh.TimeoutError:
            raise TimeoutError(command) from None
        except (asyncssh.Error, OSError) as e:
            raise ConnectionFailed(
                "shell",
                f"the connection to {self.name} dropped: {e}",
                f"run `ctrlops server fix {self.name} reconnect`",
                category="shell_disconnected",
            ) from None
        out = proc.stdout if isinstance(proc.stdout, bytes) else b""
        err = proc.stderr if isinstance(proc.stderr, bytes) else b""
        status = proc.exit_status if proc.exit_status is not None else -1
        return Result(
            tuple(argv), status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        )

    async def close(self) -> None:
        self.conn.close()
        await self.conn.wait_closed()
        if self.jump is not None:
            self.jump.close()


def _check_key_file(path: str) -> None:
    p = Path(path).expanduser()
    try:
        mode = p.stat().st_mode
        with p.open("rb"):
            pass
    except FileNotFoundError:
        raise ConnectionFailed(
            "auth",
            f"the key file {path} does not exist",
            "give the path of the private key with --key, or omit --key to use ssh-agent "
            "and ~/.ssh/config",
            category="key_missing",
        ) from None
    except PermissionError:
        raise ConnectionFailed(
            "auth",
            f"the key file {path} cannot be read by {getpass.getuser()}",
            f"make it readable by you: chmod 600 {shlex.quote(path)}",
            category="key_unreadable",
        ) from None
    if stat.S_IMODE(mode) & 0o077:
        raise ConnectionFailed(
            "auth",
            f"permissions {stat.S_IMODE(mode):04o} for {path} are too open; OpenSSH refuses "
            "private keys that others can read, and so does ctrlops",
            f"chmod 600 {shlex.quote(path)}",
            category="key_permissions",
        )


def _options(target: SSHTarget, known_hosts: object) -> asyncssh.SSHClientConnectionOptions:
    """Build connection options; raises ConnectionFailed for an unusable key."""
    kwargs: dict[str, object] = {
        "host": target.host,
        "known_hosts": known_hosts,
        "connect_timeout": target.timeout,
        "login_timeout": target.timeout,
        "keepalive_interval": KEEPALIVE_INTERVAL,
        "keepalive_count_max": 3,
    }
    user_config = Path("~/.ssh/config").expanduser()
    # Named explicitly: asyncssh's own default lookup does not apply Host blocks here.
    kwargs["config"] = [str(user_config)] if os.access(user_config, os.R_OK) else []
    if target.port:
        kwargs["port"] = target.port
    if target.user:
        kwargs["username"] = target.user
    if target.key_path:
        _check_key_file(target.key_path)
        kwargs["client_keys"] = [str(Path(target.key_path).expanduser())]
    if target.passphrase:
        kwargs["passphrase"] = target.passphrase
    try:
        return asyncssh.SSHClientConnectionOptions(**kwargs)
    except asyncssh.KeyImportError as e:
        raise diagnose.key_import_failed(target.key_path, e) from None
    except asyncssh.KeyEncryptionError as e:
        raise ConnectionFailed(
            "auth",
            f"the key {target.key_path or '(from ~/.ssh)'} could not be decrypted: {e}",
            "check the passphrase (CTRLOPS_SSH_PASSPHRASE or the prompt), or use ssh-agent",
            category="passphrase_wrong",
        ) from None
    except (OSError, ValueError) as e:  # an IdentityFile from ~/.ssh/config that is missing
        raise ConnectionFailed(
            "auth",
            f"a key named by ~/.ssh/config cannot be loaded: {e}",
            "fix the IdentityFile line in ~/.ssh/config or give --key",
            category="key_missing",
        ) from None


async def _open_jump(target: SSHTarget) -> asyncssh.SSHClientConnection:
    """Connect to the jump host with the same key settings as the target.

    The jump host's own key is not pinned: the session to the target runs end to end
    through it and is authenticated by the target's pinned key, so a jump host can deny
    service but cannot impersonate the target.
    """
    assert target.jump
    user, _, hostport = target.jump.rpartition("@")
    host, _, port = hostport.rpartition(":") if hostport.count(":") == 1 else (hostport, "", "")
    jump = SSHTarget(
        host=host.strip("[]"),
        port=int(port) if port else None,
        user=user or target.user,
        key_path=target.key_path,
        timeout=target.timeout,
        passphrase=target.passphrase,
    )
    options = _options(jump, None)
    try:
        return await asyncio.wait_for(
            asyncssh.connect(options.host, options.port, options=options), target.timeout * 2
        )
    except (asyncssh.Error, OSError, TimeoutError) as e:
        failed = await diagnose.connect_failed(options.host, options.port, jump, e)
        raise ConnectionFailed(
            failed.layer,
            f"the jump host {target.jump} failed: {failed.cause}",
            failed.fix,
            category=failed.category,
        ) from None


async def open_ssh(
    name: str, target: SSHTarget, on_lost: Callable[[Exception | None], None] | None = None
) -> SSHRemote:
    """Connect and authenticate; return the connection and the host key it presented.

    Raises :class:`ConnectionFailed` naming the layer that failed (dns, tcp, banner, kex,
    host_key, auth) with its cause and fix.
    """
    pinned = [asyncssh.import_public_key(target.host_key)] if target.host_key else None
    # A pinned key is the only one trusted; with none yet, the key is accepted and pinned.
    known_hosts: object = (pinned, [], []) if pinned else None
    options = _options(target, known_hosts)
    host, port = options.host, options.port
    holder: dict[str, SSHRemote] = {}

    class _Client(asyncssh.SSHClient):
        def connection_lost(self, exc: Exception | None) -> None:
            if "remote" in holder:
                holder["remote"].connection_lost(exc)

    try:
        tunnel = await _open_jump(target) if target.jump else ()
        conn, _ = await asyncio.wait_for(
            asyncssh.create_connection(_Client, host, port, tunnel=tunnel, options=options),
            target.timeout * 2,
        )
    except asyncssh.HostKeyNotVerifiable:
        raise await diagnose.host_key_changed(name, host, port, target) from None
    except (asyncssh.Error, OSError, TimeoutError) as e:
        raise await diagnose.connect_failed(host, port, target, e) from None
    key = conn.get_server_host_key()
    offered = key.export_public_key("openssh").decode().strip() if key else ""
    remote = SSHRemote(name, conn, offered, on_lost)
    remote.jump = tunnel or None
    holder["remote"] = remote
    return remote
