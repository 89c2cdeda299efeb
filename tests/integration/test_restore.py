"""Restore and verify end to end: a real sshd server, real SeaweedFS, the real rclone."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ctrlops.cli import restore as cli
from ctrlops.errors import InputError
from ctrlops.server.spec import parse_spec
from ctrlops.services import jobs, servers, verification
from ctrlops.services import restore as service
from tests.support.jobs import Bed, chown, run
from tests.support.jobs import add_job as add
from tests.support.s3 import RCLONE, rclone_env


def backup(name: str) -> dict[str, Any]:
    result: dict[str, Any] = run(jobs.run_now(name, wait=True))
    assert result["state"] == "success", result
    return result


def sums(root: Path) -> dict[str, str]:
    """Every file under ``root``: relative path -> sha256."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def tree(bed: Bed, files: dict[str, bytes]) -> Path:
    src = bed.tree()
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    chown(src, bed.sshd.user)
    return src


def restored(target: Path, src: Path) -> Path:
    return target / str(src).lstrip("/")


def test_it_restores_a_tree_byte_for_byte_without_a_secret_on_any_command_line(
    bed: Bed,
) -> None:
    src = tree(
        bed,
        {
            "a.txt": b"alpha",
            "sub/deep/b.bin": os.urandom(300_000),
            "big.bin": os.urandom(24 * 1024 * 1024),
            "odd name $(id).txt": b"safe",
        },
    )
    add(bed, "site", [src])
    backup("site")
    target = bed.tree("restore-target")

    secret = bed.s3.rw.secret_access_key.encode()
    seen: dict[str, Any] = {"secret": False, "rclone": False}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    data = cmdline.read_bytes()
                except OSError:
                    continue
                seen["secret"] = seen["secret"] or secret in data
                seen["rclone"] = seen["rclone"] or (b"rclone" in data and b"--config" in data)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = run(service.restore("site", to=str(target)))
    finally:
        done.set()
        watcher.join()

    assert not seen["secret"]
    assert seen["rclone"], "the watcher never saw the restore's rclone"
    assert sums(restored(target, src)) == sums(src)
    assert result["restored"]["files"] == 4
    assert result["restored"]["bytes"] == sum(p.stat().st_size for p in src.rglob("*.*"))
    assert result["where"] == [str(restored(target, src))]
    assert result["point"]["kind"] == "current"
    assert list((bed.sshd.home / ".ctrlops" / "tmp").iterdir()) == []


def test_at_a_time_between_two_runs_brings_back_deleted_and_old_content(bed: Bed) -> None:
    src = tree(bed, {"keep.txt": b"v1", "gone.txt": b"bye", "same.txt": b"same"})
    add(bed, "mirror", [src], mode="mirror")
    first = backup("mirror")
    time.sleep(1.5)  # run ids and upload times are in whole seconds
    between = datetime.now(UTC).replace(microsecond=0)
    time.sleep(1.5)
    (src / "gone.txt").unlink()
    (src / "keep.txt").write_bytes(b"v2")
    (src / "new.txt").write_bytes(b"born later")
    chown(src, bed.sshd.user)
    second = backup("mirror")
    assert first["id"] < second["id"]

    at = bed.tree("at")
    result = run(service.restore("mirror", to=str(at), at=between.isoformat()))
    assert sums(restored(at, src)) == {
        "keep.txt": hashlib.sha256(b"v1").hexdigest(),
        "gone.txt": hashlib.sha256(b"bye").hexdigest(),
        "same.txt": hashlib.sha256(b"same").hexdigest(),
    }
    assert result["point"]["versions_used"] == [second["id"]]
    assert result["excluded"] == {"count": 1, "paths": [f"{src}/new.txt"]}
    assert result["notes"], "the limits of the reconstruction must be stated"

    # The same point named by the run that made it.
    by_run = bed.tree("by-run")
    run(service.restore("mirror", to=str(by_run), run_id=first["id"]))
    assert sums(restored(by_run, src)) == sums(restored(at, src))

    now = bed.tree("now")
    run(service.restore("mirror", to=str(now)))
    assert sums(restored(now, src)) == sums(src)


def test_it_keeps_existing_files_unless_told_to_overwrite(bed: Bed) -> None:
    src = tree(bed, {"a.txt": b"backed up", "b.txt": b"bravo"})
    add(bed, "keep", [src])
    backup("keep")
    target = bed.tree("existing")
    mine = restored(target, src) / "a.txt"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"local edit")
    chown(target, bed.sshd.user)

    result = run(service.restore("keep", to=str(target)))
    assert mine.read_bytes() == b"local edit"
    assert (restored(target, src) / "b.txt").read_bytes() == b"bravo"
    assert result["skipped"] == {"count": 1, "paths": [str(mine)]}
    assert result["restored"]["files"] == 1

    forced = run(service.restore("keep", to=str(target), overwrite=True))
    assert mine.read_bytes() == b"backed up"
    assert forced["skipped"]["count"] == 0


def test_path_restores_only_that_part_of_a_source(bed: Bed) -> None:
    src = tree(bed, {"img/a.png": b"png", "img/deep/b.png": b"png2", "index.html": b"<html>"})
    add(bed, "part", [src])
    backup("part")
    target = bed.tree("part-target")
    result = run(service.restore("part", to=str(target), paths=[f"{src}/img"]))
    assert sorted(sums(restored(target, src))) == ["img/a.png", "img/deep/b.png"]
    assert result["restored"]["files"] == 2


def test_it_restores_onto_another_registered_server(
    bed: Bed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tree(bed, {"x/y.txt": b"elsewhere", "z.bin": os.urandom(5000)})
    add(bed, "moving", [src])
    backup("moving")
    home = tmp_path / "here-home"
    (home / ".ctrlops" / "bin").mkdir(parents=True)
    (home / ".ctrlops" / "bin" / "rclone").symlink_to(RCLONE)
    monkeypatch.setenv("HOME", str(home))  # this machine's runner rclone, as installed
    servers.add(parse_spec(name="here", local=True))
    target = tmp_path / "restored"

    result = run(service.restore("moving", to=str(target), server="here"))
    assert result["server"] == "here"
    assert sums(restored(target, src)) == sums(src)
    assert list((home / ".ctrlops" / "tmp").iterdir()) == []


def test_verify_is_clean_after_a_backup_and_names_what_differs(bed: Bed) -> None:
    src = tree(bed, {"a.txt": b"alpha", "b.txt": b"bravo", "skip.tmp": b"excluded"})
    add(bed, "check", [src], excludes=["*.tmp"])
    backup("check")
    clean = run(verification.verify("check"))
    assert clean["ok"], clean
    assert clean["hash"] and clean["matched"] == 2

    (src / "a.txt").write_bytes(b"ALPHA")  # same size: only the hash can tell
    objects = bed.objects()
    key = next(k for k in objects if k.endswith("/b.txt"))
    subprocess.run(
        [RCLONE, "deletefile", f"s3t:{bed.bucket}/{key}"], env=rclone_env(bed.s3), check=True
    )
    dirty = run(verification.verify("check"))
    assert not dirty["ok"]
    assert dirty["differ"] == {"count": 1, "paths": [f"{src}/a.txt"]}
    assert dirty["missing"] == {"count": 1, "paths": [f"{src}/b.txt"]}
    assert list((bed.sshd.home / ".ctrlops" / "tmp").iterdir()) == []


def test_verify_counts_extra_objects_as_a_difference_only_in_mirror_mode(bed: Bed) -> None:
    src = tree(bed, {"a.txt": b"a", "b.txt": b"b"})
    add(bed, "copyjob", [src])
    backup("copyjob")
    (src / "b.txt").unlink()
    copy_mode = run(verification.verify("copyjob"))
    assert copy_mode["extra"]["paths"] == [f"{src}/b.txt"]
    assert copy_mode["ok"]  # copy mode never deletes: extras are expected

    mirror_src = tree(bed, {"a.txt": b"a", "b.txt": b"b"})
    add(bed, "mirrorjob", [mirror_src], mode="mirror", prefix="m")
    backup("mirrorjob")
    (mirror_src / "b.txt").unlink()
    assert not run(verification.verify("mirrorjob"))["ok"]


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"to": "relative/dir"}, "--to"),
        ({"to": "/r", "paths": ["/etc/passwd"]}, "--path"),
        ({"to": "/r", "paths": ["{src}/../x"]}, "--path"),
        ({"to": "/r", "at": "2025-01-01T00:00:00"}, "--at"),
        ({"to": "/r", "at": "2025-01-01T00:00:00Z"}, "--at"),  # copy mode keeps no versions
        ({"to": "/r", "run_id": "nope"}, "--run"),
    ],
)
def test_bad_input_is_refused_before_anything_runs(
    bed: Bed, kw: dict[str, Any], field: str
) -> None:
    src = tree(bed, {"a": b"a"})
    add(bed, "refuse", [src])
    kw = {k: [p.format(src=src) for p in v] if k == "paths" else v for k, v in kw.items()}
    with pytest.raises(InputError) as e:
        run(service.restore("refuse", **kw))
    assert e.value.field == field
    assert not (bed.sshd.home / ".ctrlops" / "tmp").exists() or not list(
        (bed.sshd.home / ".ctrlops" / "tmp").iterdir()
    )


def test_the_commands_render_and_exit_1_on_differences_and_2_on_bad_input(bed: Bed) -> None:
    app = typer.Typer()
    app.command("restore")(cli.restore)
    app.command("verify")(cli.verify)
    src = tree(bed, {"a.txt": b"alpha"})
    add(bed, "cli", [src])
    backup("cli")
    cli_runner = CliRunner()

    ok = cli_runner.invoke(app, ["verify", "cli", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True
    (src / "a.txt").write_bytes(b"changed!")
    bad = cli_runner.invoke(app, ["verify", "cli"])
    assert bad.exit_code == 1
    assert "missing" not in bad.stdout and "different at the destination: 1" in bad.stdout

    target = bed.tree("cli-target")
    done = cli_runner.invoke(app, ["restore", "cli", "--to", str(target)])
    assert done.exit_code == 0, done.output
    assert "restored 1 files" in done.stdout
    refused = cli_runner.invoke(app, ["restore", "cli", "--to", "x", "--json"])
    assert refused.exit_code == 2
    assert json.loads(refused.stdout)["error"]["cause"].startswith("--to:")
