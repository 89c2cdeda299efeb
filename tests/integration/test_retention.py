"""Retention: old version folders go after a successful run, exactly as previewed."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ctrlops.errors import InputError
from ctrlops.services import jobs
from tests.support.jobs import Bed, chown, run
from tests.support.s3 import RCLONE, rclone_env

OLD = ["20200101T000000Z-11", "20200102T000000Z-12"]


def plant_versions(bed: Bed, names: list[str]) -> None:
    for name in names:
        subprocess.run(
            [RCLONE, "rcat", f"s3t:{bed.bucket}/versions/{name}/srv/old.txt"],
            input=b"old",
            env=rclone_env(bed.s3),
            check=True,
        )


def version_folders(bed: Bed) -> list[str]:
    out = subprocess.run(
        [RCLONE, "lsf", "--dirs-only", f"s3t:{bed.bucket}/versions/"],
        env=rclone_env(bed.s3),
        capture_output=True,
        text=True,
    ).stdout
    return sorted(line.rstrip("/") for line in out.splitlines())


def still_there(bed: Bed, names: list[str]) -> list[str]:
    """Which planted version folders still hold their file, by reading the object itself
    (SeaweedFS's listings show deleted objects for a while; a read does not)."""
    return [
        name
        for name in names
        if subprocess.run(
            [RCLONE, "cat", f"s3t:{bed.bucket}/versions/{name}/srv/old.txt"],
            env=rclone_env(bed.s3),
            capture_output=True,
        ).stdout
        == b"old"
    ]


def mirror_job(bed: Bed, name: str) -> Path:
    src = bed.tree()
    (src / "a.txt").write_text("v1")
    chown(src, bed.sshd.user)
    info = jobs.spec(
        name,
        server=bed.server,
        sources=[str(src)],
        dest=bed.dest,
        mode="mirror",
        options={"keep_days": 30},
    )
    run(jobs.add(info))
    return src


def test_the_preview_lists_what_prune_then_deletes(bed: Bed) -> None:
    mirror_job(bed, "kept")
    recent = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-99"
    plant_versions(bed, [*OLD, recent])

    preview = run(jobs.prune("kept", dry_run=True))
    assert preview["versions"] == OLD
    assert version_folders(bed) == [*OLD, recent]  # a preview deletes nothing

    assert run(jobs.prune("kept", dry_run=False))["versions"] == OLD
    assert still_there(bed, [*OLD, recent]) == [recent]


def test_a_successful_run_prunes_versions_past_retention(bed: Bed) -> None:
    mirror_job(bed, "kept")
    plant_versions(bed, OLD)
    assert run(jobs.run_now("kept", wait=True))["state"] == "success"
    assert still_there(bed, OLD) == []


def test_a_failed_run_prunes_nothing(bed: Bed) -> None:
    info = jobs.spec(
        "failing",
        server=bed.server,
        sources=[str(bed.root / "gone")],
        dest=bed.dest,
        mode="mirror",
        options={"keep_days": 1},
    )
    run(jobs.add(info))
    plant_versions(bed, OLD)
    assert run(jobs.run_now("failing", wait=True))["state"] == "failed"
    assert still_there(bed, OLD) == OLD


def test_retention_needs_mirror_mode_and_a_sane_number(bed: Bed) -> None:
    with pytest.raises(InputError) as e:
        jobs.spec(
            "bad",
            server=bed.server,
            sources=["/srv"],
            dest=bed.dest,
            mode="mirror",
            options={"keep_days": -1},
        )
    assert e.value.field == "--keep-days"


def test_the_cli_keeps_the_retention_it_is_given(bed: Bed) -> None:
    from tests.support.cli import ctrlops

    src = bed.tree()
    chown(src, bed.sshd.user)
    made = ctrlops("job", "add", "kept", "--server", bed.server, "--source", str(src),
                   "--dest", bed.dest, "--mode", "mirror", "--keep-days", "30")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert jobs.get("kept").options["keep_days"] == 30
    job_env = bed.sshd.home / ".ctrlops" / "jobs" / jobs.get("kept").uid / "job.env"
    assert "KEEP_VERSIONS_DAYS='30'" in job_env.read_text()
