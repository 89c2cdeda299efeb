"""The support bundle over a real sshd, real S3 and real rclone: complete and redacted."""

from __future__ import annotations

import secrets
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ctrlops.runner import layout
from ctrlops.services import bundle, jobs, servers
from tests.support.jobs import Bed, chown, run
from tests.support.jobs import add_job as add

AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # the shape of a real key id; nobody named it a secret


def members(path: str) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        out: dict[str, bytes] = {}
        for m in tar.getmembers():
            f = tar.extractfile(m)
            assert f is not None
            out[m.name.split("/", 1)[1]] = f.read()
        return out


@contextmanager
def outdated_runner(bed: Bed) -> Iterator[None]:
    """Make the "runner outdated" banner show (the runner's behaviour is unchanged)."""
    runner = bed.sshd.home / layout.RUNNER
    original = runner.read_text()
    lines = original.split("\n")
    runner.write_text("\n".join([lines[0], "# ctrlops-run version 0", *lines[2:]]))
    try:
        yield
    finally:
        runner.write_text(original)


def test_it_bundles_the_last_failed_run_with_what_support_asks_for_and_no_secret(
    bed: Bed, tmp_path: Path
) -> None:
    ok = bed.tree()
    (ok / "a.txt").write_text("alpha")
    chown(ok, bed.sshd.user)
    missing = bed.sshd.home / f"data-{secrets.token_hex(4)}-{AWS_KEY_ID}"
    add(bed, "flaky", [ok, missing])
    failed = run(jobs.run_now("flaky", wait=True))
    assert failed["state"] == "failed", failed
    # Fixed afterwards: the bundle must still be about the run that failed.
    missing.mkdir()
    (missing / "b.txt").write_text("beta")
    chown(missing, bed.sshd.user)
    assert run(jobs.run_now("flaky", wait=True))["state"] == "success"

    extra = "Zq8" + secrets.token_urlsafe(30)
    planted = [bed.s3.rw.secret_access_key, bed.s3.rw.access_key_id, extra, AWS_KEY_ID]
    uid = jobs.get("flaky").uid
    log = bed.sshd.home / layout.job_dir(uid) / "runs" / failed["id"] / "rclone.log"
    with log.open("a") as f:
        f.write("bundle-test-marker: this is the failing run's log\n")
        f.write(f"secret_access_key = {extra}\n")
        f.write(f"retrying with {bed.s3.rw.access_key_id}:{bed.s3.rw.secret_access_key}\n")

    with outdated_runner(bed):
        check = run(servers.check("web1"))
        result = run(bundle.bundle("flaky", tmp_path / "support.tar.gz"))

    path = Path(result["path"])
    assert path == tmp_path / "support.tar.gz"
    assert path.stat().st_mode & 0o777 == 0o600
    assert (result["job"], result["run"]) == ("flaky", failed["id"])
    files = members(result["path"])
    assert {n.split("/", 1)[1] for n in result["files"]} == set(files)
    assert {"summary.md", "rclone.log", "job.json", "destination.json"} <= set(files)

    summary = files["summary.md"].decode()
    assert "`flaky`" in summary
    assert "MinIO (`minio`)" in summary
    assert f"Failure time (UTC): {failed['finished']}" in summary
    assert "state **failed**" in summary
    assert "**source_missing**" in summary
    assert "**Backup runner on the server is outdated**" in summary
    for b in check["banners"]:
        assert b["text"] in summary
    assert "$ timedatectl" in summary and "$ date -u" in summary
    if Path("/etc/timezone").exists():  # the server is this machine
        assert Path("/etc/timezone").read_text().strip() in summary
    assert "rclone on this machine: rclone v" in summary
    assert b"bundle-test-marker" in files["rclone.log"]
    assert b"secret_access_key = ********" in files["rclone.log"]

    for name, data in files.items():
        for secret in planted:
            assert secret.encode() not in data, (name, secret)
    raw = path.read_bytes()
    assert not any(s.encode() in raw for s in planted)


def test_it_bundles_the_last_run_when_none_failed(bed: Bed, tmp_path: Path) -> None:
    src = bed.tree()
    (src / "a.txt").write_text("alpha")
    chown(src, bed.sshd.user)
    add(bed, "fine", [src])
    done = run(jobs.run_now("fine", wait=True))
    assert done["state"] == "success"

    result = run(bundle.bundle("fine", tmp_path))

    assert Path(result["path"]).parent == tmp_path
    assert result["run"] == done["id"]
    summary = members(result["path"])["summary.md"].decode()
    assert "state **success**" in summary
    assert "Not gathered" not in summary


def test_it_says_what_it_could_not_gather_for_a_job_that_never_ran(
    bed: Bed, tmp_path: Path
) -> None:
    add(bed, "fresh", [bed.tree()])

    result = run(bundle.bundle("fresh", tmp_path))

    assert result["run"] is None
    files = members(result["path"])
    assert "the job has not run yet" in files["summary.md"].decode()
    assert files["rclone.log"].startswith(b"(no log")
