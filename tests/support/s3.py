"""pytest plugin: one real S3 server (SeaweedFS) per test session, on loopback."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctrlops.embedded.s3 import LocalS3

RCLONE = str(Path(sys.executable).parent / "rclone")


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3]:
    """The session's S3 server: ``.endpoint``, ``.rw`` and ``.ro`` identities."""
    with LocalS3(tmp_path_factory.mktemp("s3")) as server:
        yield server


def rclone_env(s3: LocalS3, identity: str = "rw", remote: str = "s3t") -> dict[str, str]:
    """Environment that defines rclone remote ``remote`` for ``s3`` (no config file)."""
    who = s3.rw if identity == "rw" else s3.ro
    up = remote.upper()
    return {
        **os.environ,
        f"RCLONE_CONFIG_{up}_TYPE": "s3",
        f"RCLONE_CONFIG_{up}_PROVIDER": "SeaweedFS",
        f"RCLONE_CONFIG_{up}_ENDPOINT": s3.endpoint,
        f"RCLONE_CONFIG_{up}_ACCESS_KEY_ID": who.access_key_id,
        f"RCLONE_CONFIG_{up}_SECRET_ACCESS_KEY": who.secret_access_key,
        "RCLONE_CONFIG": "/dev/null",
    }


@pytest.fixture
def bucket(s3: LocalS3) -> Iterator[str]:
    """A new, empty bucket on the session's S3 server (made with the real rclone).

    Removed afterwards: each bucket holds a volume of its own, and a whole suite's worth
    of them exhausts the server's volume slots ("No writable volumes" for later tests).
    """
    name = "t-" + secrets.token_hex(5)
    subprocess.run([RCLONE, "mkdir", f"s3t:{name}"], env=rclone_env(s3), check=True)
    yield name
    subprocess.run(
        [RCLONE, "purge", f"s3t:{name}"], env=rclone_env(s3), capture_output=True, check=False
    )
