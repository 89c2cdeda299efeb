"""A planted secret is found nowhere but where it must be, and that place is private."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ctrlops.services import destinations, jobs
from tests.support.jobs import Bed, chown, run


def files_containing(root: Path, needle: bytes) -> list[Path]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if needle in path.read_bytes():
                    hits.append(path)
            except OSError:
                continue
    return hits


def test_the_secret_lives_only_in_private_files_on_both_sides(bed: Bed, ctrlops_home: Path) -> None:
    secret = bed.s3.rw.secret_access_key.encode()
    src = bed.tree()
    (src / "f.txt").write_text("data")
    chown(src, bed.sshd.user)
    info = jobs.spec("sec", server=bed.server, sources=[str(src)], dest=bed.dest)
    run(jobs.add(info))
    assert run(jobs.run_now("sec", wait=True))["state"] == "success"
    assert run(destinations.test(bed.dest, bed.server)).ok
    run(jobs.status("sec"))

    server_root = bed.sshd.home / ".ctrlops"
    hits = files_containing(server_root, secret)
    assert [p.relative_to(server_root).as_posix() for p in hits] == [f"jobs/{info.uid}/rclone.conf"]
    assert stat.S_IMODE(hits[0].stat().st_mode) == 0o600
    for parent in [hits[0].parent, *hits[0].parent.parents]:
        if parent == server_root.parent:
            break
        assert stat.S_IMODE(parent.stat().st_mode) == 0o700, parent
    assert not (server_root / "tmp").exists() or not any((server_root / "tmp").iterdir())

    # Control side: the store holds it encrypted only; its files are private.
    assert files_containing(ctrlops_home, secret) == []
    assert stat.S_IMODE(ctrlops_home.stat().st_mode) == 0o700
    for name in os.listdir(ctrlops_home):
        path = ctrlops_home / name
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
