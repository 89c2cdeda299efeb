"""Copy a large local file to a server, streamed and atomic (temp file beside it + rename).

:func:`ctrlops.remote.exec.write_file` holds its data in memory, fine for configs but not
for a 60+ MB rclone binary. Over SSH this streams through SFTP on the existing connection
(asyncssh pipelines the writes); a server without an SFTP subsystem falls back to
``write_file``. On this machine it is a plain file copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import secrets
import shutil
import tempfile
from pathlib import Path

import asyncssh

from ctrlops.errors import CtrlopsError
from ctrlops.remote.base import Remote
from ctrlops.remote.exec import execute, write_file
from ctrlops.remote.local import LocalRemote
from ctrlops.remote.ssh import SSHRemote


def _copy_local(source: Path, target: str, mode: int) -> None:
    dest = Path(target)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".ctrlops-tmp.")
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


async def _sftp_put(remote: SSHRemote, source: Path, target: str, mode: int) -> None:
    folder = posixpath.dirname(target)
    tmp = f"{folder}/.ctrlops-tmp.{secrets.token_hex(6)}"
    async with remote.conn.start_sftp_client() as sftp:
        await sftp.makedirs(folder, exist_ok=True)
        try:
            await sftp.put(str(source), tmp)
            await sftp.chmod(tmp, mode)
            try:
                await sftp.posix_rename(tmp, target)
            except asyncssh.SFTPOpUnsupported:  # plain SFTP rename refuses an existing target
                await execute(remote, ["mv", "-f", "--", tmp, target])
        except BaseException:
            with contextlib.suppress(asyncssh.Error, OSError):
                await sftp.remove(tmp)
            raise


async def upload(
    remote: Remote, source: Path, target: str, *, mode: int = 0o755, timeout: float = 600.0
) -> str:
    """Copy ``source`` to the absolute path ``target`` on ``remote``; return how ("sftp", ...).

    Raises :class:`CtrlopsError` when the copy fails (nothing is left half-written).
    """
    try:
        if isinstance(remote, LocalRemote):
            await asyncio.to_thread(_copy_local, source, target, mode)
            return "copy"
        if isinstance(remote, SSHRemote):
            try:
                await asyncio.wait_for(_sftp_put(remote, source, target, mode), timeout)
                return "sftp"
            except asyncssh.ChannelOpenError:
                pass  # no SFTP subsystem on this server: the command channel still works
        data = await asyncio.to_thread(source.read_bytes)
        await write_file(remote, target, data, mode=mode, timeout=timeout)
        return "stdin"
    except TimeoutError:
        raise CtrlopsError(
            f"copying {source.name} to {remote.name}:{target} took longer than {timeout:g} s",
            "check the bandwidth to the server, then run the fix again",
            category="timeout",
        ) from None
    except (asyncssh.Error, OSError) as e:
        raise CtrlopsError(
            f"copying {source.name} to {remote.name}:{target} failed: {e}",
            f"check free space and permissions of {posixpath.dirname(target)} on the server",
            category="local_resource",
        ) from None
