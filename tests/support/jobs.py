"""pytest plugin: a server (real sshd user) with rclone, a destination on the real S3."""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import shutil
import subprocess
import sys
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ctrlops.embedded.s3 import LocalS3
from ctrlops.rclone.providers import DestinationSpec
from ctrlops.server.spec import parse_spec
from ctrlops.services import destinations, jobs, servers
from tests.support.s3 import RCLONE, rclone_env
from tests.support.sshd import IS_ROOT, SSHBed

T = TypeVar("T")


@dataclass(frozen=True)
class Bed:
    server: str
    dest: str
    bucket: str
    sshd: SSHBed
    s3: LocalS3

    root: Path

    def tree(self, name: str | None = None) -> Path:
        """A new directory in the server user's home, owned by that user (removed after)."""
        path = self.root / (name or f"data-{secrets.token_hex(4)}")
        path.mkdir(parents=True)
        chown(self.root, self.sshd.user)
        chown(path, self.sshd.user)
        return path

    def objects(self, sub: str = "") -> dict[str, bytes]:
        """Every object under the bucket (or ``sub`` in it): path -> content."""
        env = rclone_env(self.s3)
        root = f"s3t:{self.bucket}/{sub}".rstrip("/")
        listing = subprocess.run(
            [RCLONE, "lsf", "-R", "--files-only", root],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return {
            p: subprocess.run(
                [RCLONE, "cat", f"{root}/{p}"], env=env, capture_output=True, check=True
            ).stdout
            for p in listing.splitlines()
            if p
        }


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a service coroutine as a CLI command does: its connections closed afterwards."""

    async def main() -> T:
        try:
            return await coro
        finally:
            await servers.close_all()

    return asyncio.run(main())


def add_job(bed: Bed, name: str, sources: list[Path | str], **kw: Any) -> dict[str, Any]:
    """Deploy a job on the bed's server; its runs report progress every second."""
    options = {"stats_interval": "1s", **kw.pop("options", {})}
    info = jobs.spec(
        name,
        server=bed.server,
        sources=[str(s) for s in sources],
        dest=bed.dest,
        options=options,
        **kw,
    )
    return run(jobs.add(info))


def chown(path: Path, user: str) -> None:
    if IS_ROOT:
        pw = pwd.getpwnam(user)
        for p in [path, *path.rglob("*")]:
            os.lchown(p, pw.pw_uid, pw.pw_gid)


@pytest.fixture(scope="session")
def server_rclone(sshd: SSHBed) -> Path:
    """rclone installed for the sshd user where the runner looks first (~/.ctrlops/bin)."""
    target = sshd.home / ".ctrlops" / "bin" / "rclone"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(Path(sys.executable).parent / "rclone", target)
        chown(sshd.home / ".ctrlops", sshd.user)
    return target


@pytest.fixture
def bed(sshd: SSHBed, s3: LocalS3, bucket: str, server_rclone: Path) -> Iterator[Bed]:
    servers.add(
        parse_spec(name="web1", host=sshd.host, port=sshd.port, user=sshd.user, key=str(sshd.key))
    )
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
    root = sshd.home / f"t-{secrets.token_hex(4)}"
    yield Bed("web1", "store", bucket, sshd, s3, root)
    shutil.rmtree(root, ignore_errors=True)
    # Leave the user's crontab empty for the next test.
    subprocess.run(["crontab", "-r", "-u", sshd.user], capture_output=True, check=False)
    jobs_dir = sshd.home / ".ctrlops" / "jobs"
    shutil.rmtree(jobs_dir, ignore_errors=True)
