"""Real rclone, real S3 (SeaweedFS) on loopback: the logs rclone writes diagnose correctly.

Every case runs rclone twice, with plain text logs and with --use-json-log, because the
runner keeps JSON logs while users paste text ones.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctrlops.diagnose.report import OK, Diagnosis, explain_log
from ctrlops.embedded.s3 import LocalS3
from tests.support.s3 import RCLONE, rclone_env

FAST = ["--retries", "1", "--low-level-retries", "1", "--contimeout", "2s", "--timeout", "5s"]

pytestmark = pytest.mark.parametrize("json_log", [False, True], ids=["text", "json"])


def run(
    args: list[str], env: dict[str, str], json_log: bool, prefix: tuple[str, ...] = ()
) -> tuple[str, int]:
    """Run rclone with -v and return (its log, its exit code)."""
    argv = [*prefix, RCLONE, *args, *FAST, "-v", *(["--use-json-log"] if json_log else [])]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    return proc.stderr, proc.returncode


def diagnose(args: list[str], env: dict[str, str], json_log: bool) -> Diagnosis:
    log, code = run(args, env, json_log)
    return explain_log(log, exit_code=code)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"f{i}.txt").write_text("x" * (i + 1) * 100)
    return src


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: connecting to it is refused


def test_it_diagnoses_a_wrong_secret(
    s3: LocalS3, bucket: str, source: Path, json_log: bool
) -> None:
    env = {**rclone_env(s3), "RCLONE_CONFIG_S3T_SECRET_ACCESS_KEY": "wrong" + secrets.token_hex(8)}
    d = diagnose(["copy", str(source), f"s3t:{bucket}"], env, json_log)
    assert d.category == "auth_secret", d
    assert any("SignatureDoesNotMatch" in e for e in d.evidence)


def test_it_diagnoses_an_unknown_access_key(
    s3: LocalS3, bucket: str, source: Path, json_log: bool
) -> None:
    env = {**rclone_env(s3), "RCLONE_CONFIG_S3T_ACCESS_KEY_ID": "CTRLOPSNOSUCHKEY"}
    d = diagnose(["copy", str(source), f"s3t:{bucket}"], env, json_log)
    assert d.category == "auth_key_unknown", d


def test_it_does_not_blame_a_file_for_the_is_a_file_trap(
    s3: LocalS3, bucket: str, source: Path, json_log: bool
) -> None:
    env = {**rclone_env(s3), "RCLONE_CONFIG_S3T_SECRET_ACCESS_KEY": "wrong" + secrets.token_hex(8)}
    log, code = run(["copy", str(source), f"s3t:{bucket}/prefix"], env, json_log)
    assert "is a file not a directory" in log  # rclone's misleading message, for real
    d = explain_log(log, exit_code=code)
    assert d.category == "access_denied", d
    assert "No file is in the way" in d.cause
    # With -vv rclone logs the storage's real answer, and the diagnosis names it exactly.
    log, code = run(["copy", str(source), f"s3t:{bucket}/prefix", "-vv"], env, json_log)
    assert explain_log(log, exit_code=code).category == "auth_secret"


def test_it_diagnoses_a_read_only_key_writing(
    s3: LocalS3, bucket: str, source: Path, json_log: bool
) -> None:
    d = diagnose(["copy", str(source), f"s3t:{bucket}/ro"], rclone_env(s3, "ro"), json_log)
    assert d.category == "access_denied", d
    assert d.failed_files == 3
    assert sorted(d.failed_paths) == ["f0.txt", "f1.txt", "f2.txt"]
    assert d.stats is not None and d.stats.errors == 3


def test_it_diagnoses_a_missing_bucket(s3: LocalS3, tmp_path: Path, json_log: bool) -> None:
    # SeaweedFS creates a bucket on first upload, so a missing bucket shows for real where
    # rclone reads it: a restore from it, or a listing (what Test Connection does).
    missing = "t-missing-" + secrets.token_hex(4)
    d = diagnose(
        ["copy", f"s3t:{missing}/prefix", str(tmp_path / "restore")], rclone_env(s3), json_log
    )
    assert d.category == "bucket_missing", d
    assert missing in d.cause
    d = diagnose(["lsf", f"s3t:{missing}"], rclone_env(s3), json_log)
    assert d.category == "bucket_missing", d


def test_it_diagnoses_a_refused_endpoint(
    s3: LocalS3, bucket: str, source: Path, json_log: bool
) -> None:
    env = {**rclone_env(s3), "RCLONE_CONFIG_S3T_ENDPOINT": f"http://127.0.0.1:{closed_port()}"}
    d = diagnose(["copy", str(source), f"s3t:{bucket}"], env, json_log)
    assert d.category == "conn_refused", d


def _isolated() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("mount"):
        return False
    probe = subprocess.run(["unshare", "--net", "--mount", "true"], capture_output=True)
    return probe.returncode == 0


def test_it_diagnoses_an_unresolvable_endpoint(
    source: Path, tmp_path: Path, json_log: bool
) -> None:
    if not _isolated():
        pytest.skip("needs root and unshare to prove no DNS query leaves the machine")
    # Proof that nothing leaves: rclone runs in a fresh network namespace (no interface but
    # a down loopback), and nsswitch says "hosts: files", so Go's resolver answers
    # "no such host" from /etc/hosts without sending a query at all.
    nss = tmp_path / "nsswitch.conf"
    nss.write_text("hosts: files\n")
    env = {
        **os.environ,
        "RCLONE_CONFIG": "/dev/null",
        "RCLONE_CONFIG_S3T_TYPE": "s3",
        "RCLONE_CONFIG_S3T_PROVIDER": "Other",
        "RCLONE_CONFIG_S3T_ENDPOINT": "http://nonexistent.invalid",
        "RCLONE_CONFIG_S3T_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "RCLONE_CONFIG_S3T_SECRET_ACCESS_KEY": "not-a-secret",
    }
    shell = 'mount --bind "$1" /etc/nsswitch.conf && shift && exec "$@"'
    jail = ("unshare", "--net", "--mount", "sh", "-c", shell, "sh", str(nss))
    log, code = run(["copy", str(source), "s3t:bkt"], env, json_log, prefix=jail)
    assert "no such host" in log
    d = explain_log(log, exit_code=code)
    assert d.category == "dns", d
    assert "nonexistent.invalid" in d.cause


def test_it_diagnoses_a_missing_source(
    s3: LocalS3, bucket: str, tmp_path: Path, json_log: bool
) -> None:
    log, code = run(
        ["copy", str(tmp_path / "no-such-dir"), f"s3t:{bucket}"], rclone_env(s3), json_log
    )
    assert code == 3
    d = explain_log(log, exit_code=code)
    assert d.category == "source_missing", d
    assert str(tmp_path / "no-such-dir") in d.cause


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory an unprivileged user may traverse (pytest's tmp dirs are 0700)."""
    path = Path(tempfile.mkdtemp(prefix="ctrlops-diag-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_it_diagnoses_an_unreadable_source_file(
    s3: LocalS3, bucket: str, shared_dir: Path, json_log: bool
) -> None:
    (shared_dir / "ok.txt").write_text("ok")
    (shared_dir / "secret.txt").write_text("no")
    (shared_dir / "secret.txt").chmod(0)
    env = {**rclone_env(s3), "HOME": str(shared_dir), "XDG_CACHE_HOME": str(shared_dir / ".c")}
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        # root reads mode-000 files, so run rclone as the unprivileged "nobody", as a
        # backup user without root would run it.
        if not shutil.which("setpriv"):
            pytest.skip("root reads mode-000 files and setpriv is missing to drop privileges")
        prefix = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
    log, code = run(["copy", str(shared_dir), f"s3t:{bucket}/perm"], env, json_log, prefix)
    d = explain_log(log, exit_code=code)
    assert d.category == "local_permission", d
    assert d.failed_paths == ("secret.txt",)
    assert str(shared_dir / "secret.txt") in d.cause


def test_it_diagnoses_an_empty_source_as_zero_transferred(
    s3: LocalS3, bucket: str, tmp_path: Path, json_log: bool
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    log, code = run(["copy", str(empty), f"s3t:{bucket}"], rclone_env(s3), json_log)
    assert code == 0
    assert explain_log(log, exit_code=code).category == "zero_transferred"
    assert explain_log(log).category == "zero_transferred"  # exit code unknown


def test_it_calls_a_first_and_an_unchanged_second_run_ok(
    s3: LocalS3, bucket: str, source: Path, json_log: bool
) -> None:
    first = diagnose(["copy", str(source), f"s3t:{bucket}/data"], rclone_env(s3), json_log)
    assert first.category == OK, first
    second = diagnose(["copy", str(source), f"s3t:{bucket}/data"], rclone_env(s3), json_log)
    assert second.category == OK, second
    assert second.stats is not None and second.stats.transfers == 0
    assert second.stats.checks == 3
