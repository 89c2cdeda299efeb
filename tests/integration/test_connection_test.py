"""Test Connection for real: SeaweedFS, the real rclone, run through LocalRemote.

Every endpoint is on loopback. rclone is found the way the runner finds it: through
``$HOME/.ctrlops/bin/rclone`` (cron's fixed PATH would not see the venv).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import http.server
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ctrlops.embedded.s3 import LocalS3
from ctrlops.rclone.providers import DestinationSpec
from ctrlops.remote.base import Result
from ctrlops.remote.local import LocalRemote
from ctrlops.server.spec import ServerSpec
from ctrlops.services import destinations, servers
from ctrlops.storage import connection_test as ct
from tests.support.s3 import RCLONE, rclone_env

BIN = Path(sys.executable).parent


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A server home whose runner rclone is the venv's (as "Install Rclone" leaves it)."""
    home = tmp_path / "home"
    (home / ".ctrlops" / "bin").mkdir(parents=True)
    (home / ".ctrlops" / "bin" / "rclone").symlink_to(RCLONE)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    return home


class RecordingRemote(LocalRemote):
    """LocalRemote that keeps every argv it was asked to run."""

    def __init__(self) -> None:
        super().__init__("local")
        self.argvs: list[tuple[str, ...]] = []

    async def run(
        self, argv: Sequence[str], *, stdin: bytes | None = None, timeout: float
    ) -> Result:
        self.argvs.append(tuple(argv))
        return await super().run(argv, stdin=stdin, timeout=timeout)


def spec(endpoint: str, key: str, bucket: str = "bkt", prefix: str = "") -> DestinationSpec:
    return DestinationSpec(name="d", provider="s3", endpoint=endpoint, bucket=bucket,
                           access_key_id=key, prefix=prefix)  # fmt: skip


def check(
    s: DestinationSpec, secret: str, *, timeout: float = 10
) -> tuple[ct.TestResult, RecordingRemote]:
    remote = RecordingRemote()
    result = asyncio.run(ct.test_destination(remote, s, secret, timeout=timeout))
    assert secret not in str(result.as_dict())
    for argv in remote.argvs:
        assert not any(secret in a for a in argv)
    return result, remote


def tmp_left(home: Path) -> list[Path]:
    tmp = home / ".ctrlops" / "tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


def bucket_names(s3: LocalS3) -> list[str]:
    out = subprocess.run([RCLONE, "lsf", "--dirs-only", "s3t:"], env=rclone_env(s3),
                         capture_output=True, text=True, check=True)  # fmt: skip
    return [ln.rstrip("/") for ln in out.stdout.splitlines()]


@pytest.fixture
def cmdline_watch() -> Iterator[list[str]]:
    """Collects the command line of every process seen while the test runs."""
    seen: list[str] = []
    stop = threading.Event()

    def scan() -> None:
        while not stop.is_set():
            for p in Path("/proc").glob("[0-9]*/cmdline"):
                with contextlib.suppress(OSError):
                    seen.append(p.read_bytes().replace(b"\0", b" ").decode(errors="replace"))

    thread = threading.Thread(target=scan, daemon=True)
    thread.start()
    yield seen
    stop.set()
    thread.join()


def test_it_passes_every_step_and_leaves_nothing_behind(
    s3: LocalS3, bucket: str, home: Path, cmdline_watch: list[str]
) -> None:
    result, remote = check(spec(s3.endpoint, s3.rw.access_key_id, bucket, "srv/web1"),
                           s3.rw.secret_access_key)  # fmt: skip
    assert result.ok, result.as_dict()
    assert result.category is None
    assert [s["step"] for s in result.steps] == list(ct.STEPS)
    assert tmp_left(home) == []
    out = subprocess.run([RCLONE, "lsf", "-R", f"s3t:{bucket}"], env=rclone_env(s3),
                         capture_output=True, text=True, check=True)  # fmt: skip
    assert out.stdout == ""  # the probe object was deleted
    assert any("rclone" in c and "rcat" in c for c in cmdline_watch)  # the scan saw rclone
    assert not any(s3.rw.secret_access_key in c for c in cmdline_watch)
    assert remote.argvs[-1][:3] == ("rm", "-rf", "--")


def test_it_names_a_wrong_secret(s3: LocalS3, bucket: str, home: Path) -> None:
    result, _ = check(spec(s3.endpoint, s3.rw.access_key_id, bucket), "x" + s3.ro.secret_access_key)
    assert (result.ok, result.step, result.category) == (False, "credentials", "auth_secret")
    assert "SignatureDoesNotMatch" in result.raw
    assert tmp_left(home) == []


def test_it_names_an_unknown_key(s3: LocalS3, bucket: str, home: Path) -> None:
    result, _ = check(spec(s3.endpoint, "AKNOBODY0000", bucket), s3.rw.secret_access_key)
    assert (result.step, result.category) == ("credentials", "auth_key_unknown")
    assert "InvalidAccessKeyId" in result.raw


def test_it_finds_a_read_only_key_at_the_write_step(s3: LocalS3, bucket: str, home: Path) -> None:
    result, _ = check(spec(s3.endpoint, s3.ro.access_key_id, bucket), s3.ro.secret_access_key)
    assert (result.ok, result.step, result.category) == (False, "write", "access_denied")
    assert {s["step"]: s["ok"] for s in result.steps}["list"] is True
    assert "write" in result.cause
    assert tmp_left(home) == []


def test_it_finds_a_missing_bucket_when_listing_and_creates_none(s3: LocalS3, home: Path) -> None:
    result, _ = check(spec(s3.endpoint, s3.rw.access_key_id, "no-such-bkt", "x/y"),
                      s3.rw.secret_access_key)  # fmt: skip
    assert (result.step, result.category) == ("list", "bucket_missing")
    assert "no-such-bkt" in result.cause and "create" in result.fix
    assert "no-such-bkt" not in bucket_names(s3)


def test_it_names_a_refused_connection(home: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    result, _ = check(spec(f"http://127.0.0.1:{port}", "AK"), "SK")
    assert (result.step, result.category) == ("endpoint", "conn_refused")
    assert "connection refused" in result.raw


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for c in held:
        c.close()
    server.close()


def test_it_ends_a_hanging_endpoint_in_a_timeout(home: Path, silent_port: int) -> None:
    started = time.monotonic()
    result, _ = check(spec(f"http://127.0.0.1:{silent_port}", "AK"), "SK", timeout=6)
    elapsed = time.monotonic() - started
    assert (result.step, result.category) == ("endpoint", "timeout")
    assert elapsed < 6 + 2, elapsed
    assert tmp_left(home) == []


def self_signed(tmp: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ctrlops-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    return ctx


@pytest.fixture
def tls_port(tmp_path: Path) -> Iterator[int]:
    """A loopback TLS server with a self-signed certificate."""
    ctx = self_signed(tmp_path)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn = server.accept()[0]
            except TimeoutError:
                continue
            conn.settimeout(2)
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1024)
            except (OSError, ssl.SSLError):
                pass  # the client rejects our certificate: the point of the test

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_it_names_an_untrusted_certificate(home: Path, tls_port: int) -> None:
    result, _ = check(spec(f"https://127.0.0.1:{tls_port}", "AK"), "SK")
    assert (result.step, result.category) == ("endpoint", "tls")
    assert "x509" in result.raw


def test_it_reports_rclone_missing_where_the_runner_looks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ctrlops/bin/rclone, none in cron's PATH
    result, remote = check(spec("http://127.0.0.1:9", "AK"), "SK")
    assert (result.step, result.category) == ("rclone", "binary_missing")
    assert len(remote.argvs) == 1


def _store(s3: LocalS3, bucket: str, key: str, secret: str) -> None:
    destinations.add(spec(s3.endpoint, key, bucket), secret)


def test_it_saves_the_last_result_through_the_service(s3: LocalS3, bucket: str, home: Path) -> None:
    _store(s3, bucket, s3.ro.access_key_id, s3.ro.secret_access_key)
    servers.add(ServerSpec(name="here", local=True))
    try:
        result = asyncio.run(destinations.test("d", "here", timeout=10))
    finally:
        asyncio.run(servers.close_all())
    assert (result.ok, result.category) == (False, "access_denied")
    last: dict[str, Any] = destinations.show("d")["last_test"]
    assert (last["ok"], last["step"], last["server"]) == (False, "write", "here")
    assert s3.ro.secret_access_key not in str(destinations.show("d"))

    again = asyncio.run(destinations.test_with_remote("d", LocalRemote("other"), timeout=10))
    assert again.category == "access_denied"
    assert destinations.show("d")["last_test"]["server"] == "other"


# Clock skew and a wrong region cannot be produced by SeaweedFS on loopback (rclone's clock
# cannot be faked; SeaweedFS has one region). A loopback server replays AWS's published
# error documents instead, so the real rclone still parses a real-shaped answer.
AWS_ERRORS = {
    "skew": (403, "RequestTimeTooSkewed",
             "The difference between the request time and the current time is too large."),
    "region": (400, "AuthorizationHeaderMalformed", "The authorization header is malformed; "
               "the region 'us-east-1' is wrong; expecting 'eu-west-1'"),
}  # fmt: skip


def aws_stub(error: str, *, buckets_ok: bool) -> Iterator[str]:
    status, code, message = AWS_ERRORS[error]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if buckets_ok and self.path.startswith("/?"):
                status_, body = 200, "<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>"
            else:
                status_, body = (
                    status,
                    (
                        f"<Error><Code>{code}</Code><Message>{message}</Message>"
                        "<RequestId>4442587FB7D0A2F9</RequestId></Error>"
                    ),
                )
            data = body.encode()
            self.send_response(status_)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_it_names_a_clock_skew_the_provider_reports(home: Path) -> None:
    for endpoint in aws_stub("skew", buckets_ok=False):
        result, _ = check(spec(endpoint, "AK"), "SK")
        assert (result.step, result.category) == ("credentials", "clock_skew")
        assert "RequestTimeTooSkewed" in result.raw
        assert "clock" in result.cause and "time" in result.fix


def test_it_names_a_wrong_region_when_listing_the_bucket(home: Path) -> None:
    for endpoint in aws_stub("region", buckets_ok=True):
        result, _ = check(spec(endpoint, "AK"), "SK")
        assert (result.step, result.category) == ("list", "wrong_region")
        assert "--region" in result.fix
