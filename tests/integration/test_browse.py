"""The file browser's service on the real bed: sshd, SeaweedFS, rclone on the server."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ctrlops.cli import restore as cli
from ctrlops.errors import InputError, NotFoundError
from ctrlops.services import browse, jobs
from tests.support.jobs import Bed, chown, run
from tests.support.jobs import add_job as add


def backup(name: str) -> dict[str, Any]:
    result: dict[str, Any] = run(jobs.run_now(name, wait=True))
    assert result["state"] == "success", result
    return result


def tree(bed: Bed, files: dict[str, bytes]) -> Path:
    src = bed.tree()
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    chown(src, bed.sshd.user)
    return src


def names(result: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(e["name"], e["is_dir"]) for e in result["entries"]]


def no_workspace_left(bed: Bed) -> bool:
    tmp = bed.sshd.home / ".ctrlops" / "tmp"
    return not tmp.exists() or not list(tmp.iterdir())


def test_it_lists_the_top_and_a_subfolder_and_only_this_jobs_files(bed: Bed) -> None:
    src = tree(bed, {"a.txt": b"alpha", "sub/b.txt": b"bravo!", "sub/deep/c.bin": b"c" * 5})
    other = tree(bed, {"secret-of-other-job.txt": b"x"})
    add(bed, "site", [src])
    add(bed, "other", [other])  # the same bucket and prefix: its files sit beside ours
    backup("site")
    backup("other")

    top = run(browse.listing("site"))
    assert top["path"] == str(src.parent)
    assert names(top) == [(src.name, True)]
    assert top["entries"][0]["restorable"] is True
    assert top["home"] == str(bed.sshd.home)

    level = run(browse.listing("site", str(src)))
    assert names(level) == [("sub", True), ("a.txt", False)]
    a = level["entries"][1]
    assert a["path"] == f"{src}/a.txt"
    assert a["size"] == 5
    mtime = datetime.fromisoformat(a["modified"])
    assert abs(mtime.timestamp() - (src / "a.txt").stat().st_mtime) < 1

    sub = run(browse.listing("site", f"{src}/sub/"))
    assert sub["path"] == f"{src}/sub"
    assert names(sub) == [("deep", True), ("b.txt", False)]
    assert sub["entries"][1]["size"] == 6

    # Folders on the way to the sources are shown, but only a source can be restored.
    root = run(browse.listing("site", "/"))
    first = str(src).split("/")[1]
    assert names(root) == [(first, True)]
    assert root["entries"][0]["restorable"] is False
    assert no_workspace_left(bed)


def test_a_search_finds_nested_names_in_any_case_and_says_when_it_cut(
    bed: Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tree(
        bed,
        {
            "top.txt": b"t",
            "docs/2024/Report-Q1.pdf": b"q1",
            "docs/reports/summary.txt": b"s",
            "img/report.png": b"png",
        },
    )
    add(bed, "find", [src])
    backup("find")

    found = run(browse.listing("find", str(src), search="REPORT"))
    assert [e["path"] for e in found["entries"]] == [
        f"{src}/docs/2024/Report-Q1.pdf",
        f"{src}/docs/reports",
        f"{src}/img/report.png",
    ]
    assert [e["is_dir"] for e in found["entries"]] == [False, True, False]
    assert found["entries"][0]["size"] == 2
    assert found["truncated"] is False and found["total"] == 3

    # Only under the folder given.
    under = run(browse.listing("find", f"{src}/img", search="report"))
    assert [e["path"] for e in under["entries"]] == [f"{src}/img/report.png"]
    assert run(browse.listing("find", str(src), search="nothing-like-it"))["entries"] == []

    monkeypatch.setattr(browse, "SEARCH_LIMIT", 2)
    cut = run(browse.listing("find", str(src), search="report"))
    assert len(cut["entries"]) == 2
    assert cut["truncated"] is True and cut["total"] == 3


@pytest.mark.parametrize(
    ("path", "search", "field"),
    [
        ("{src}/../etc", None, "path"),
        ("{src}/sub/./x", None, "path"),
        ("relative/dir", None, "path"),
        ("/etc", None, "path"),  # outside the job's sources
        ("{src}/no-such-folder", None, "path"),
        ("{src}/a.txt", None, "path"),  # a file is not a folder
        ("{src}", "line\nbreak", "search"),
    ],
)
def test_bad_paths_are_refused_naming_the_field(
    bed: Bed, path: str, search: str | None, field: str
) -> None:
    src = tree(bed, {"a.txt": b"a", "sub/x": b"x"})
    add(bed, "refuse", [src])
    backup("refuse")
    with pytest.raises(InputError) as e:
        run(browse.listing("refuse", path.format(src=src), search=search))
    assert e.value.field == field
    assert e.value.exit_code == 2
    assert no_workspace_left(bed)


def test_an_unknown_job_is_not_found(bed: Bed) -> None:
    with pytest.raises(NotFoundError):
        run(browse.listing("nope"))


def test_a_run_or_a_time_in_mirror_mode_shows_a_file_deleted_later(bed: Bed) -> None:
    src = tree(bed, {"keep.txt": b"v1", "old/gone.txt": b"bye"})
    add(bed, "mirror", [src], mode="mirror")
    first = backup("mirror")
    time.sleep(1.5)  # run ids and upload times are in whole seconds
    between = datetime.now(UTC).replace(microsecond=0)
    time.sleep(1.5)
    (src / "old" / "gone.txt").unlink()
    (src / "old").rmdir()
    (src / "keep.txt").write_bytes(b"v2 longer")
    (src / "new.txt").write_bytes(b"born later")
    chown(src, bed.sshd.user)
    backup("mirror")

    now = run(browse.listing("mirror", str(src)))
    # SeaweedFS keeps the emptied folder "old"; AWS S3 would not list it.
    assert [n for n in names(now) if n != ("old", True)] == [
        ("keep.txt", False),
        ("new.txt", False),
    ]
    assert now["entries"][-2]["size"] == len(b"v2 longer")
    assert now["point"]["kind"] == "current"
    assert run(browse.listing("mirror", str(src), search="gone"))["entries"] == []
    emptied = run(browse.listing("mirror", f"{src}/old"))  # listed by its parent: no error
    assert emptied["entries"] == [] and emptied["notes"]

    for point in ({"run": first["id"]}, {"at": between.isoformat()}):
        then = run(browse.listing("mirror", str(src), **point))
        assert names(then) == [("old", True), ("keep.txt", False)], point
        assert then["entries"][1]["size"] == 2  # v1, not v2
        assert then["excluded"] == 1  # new.txt was created after that point
        assert then["notes"], "the limits of the reconstruction must be stated"
        old = run(browse.listing("mirror", f"{src}/old", **point))
        assert names(old) == [("gone.txt", False)]
        found = run(browse.listing("mirror", str(src), search="GONE", **point))
        assert [e["path"] for e in found["entries"]] == [f"{src}/old/gone.txt"]

    with pytest.raises(InputError) as e:
        run(browse.listing("mirror", str(src), run="20000101T000000Z-1"))
    assert e.value.field == "--run"


def test_copy_mode_has_no_point_in_time(bed: Bed) -> None:
    src = tree(bed, {"a": b"a"})
    add(bed, "copy", [src])
    with pytest.raises(InputError) as e:
        run(browse.listing("copy", str(src), at="2025-01-01T00:00:00Z"))
    assert e.value.field == "--at"


def test_the_cli_lists_searches_and_exits_2_on_a_bad_path(bed: Bed) -> None:
    app = typer.Typer()
    app.command("restore")(cli.restore)
    app.command("verify")(cli.verify)
    src = tree(bed, {"a.txt": b"alpha", "sub/needle.txt": b"n"})
    add(bed, "cli", [src])
    backup("cli")
    runner = CliRunner()

    shown = runner.invoke(app, ["restore", "cli", "--list", "--path", str(src)])
    assert shown.exit_code == 0, shown.output
    assert "a.txt" in shown.stdout and "sub/" in shown.stdout

    found = runner.invoke(
        app, ["restore", "cli", "--list", "--path", str(src), "--search", "NEEDLE", "--json"]
    )
    assert found.exit_code == 0, found.output
    assert [e["path"] for e in json.loads(found.stdout)["entries"]] == [f"{src}/sub/needle.txt"]

    bad = runner.invoke(app, ["restore", "cli", "--list", "--path", f"{src}/../x", "--json"])
    assert bad.exit_code == 2
    assert json.loads(bad.stdout)["error"]["cause"].startswith("--path:")
    for args in (["--list", "--to", "/tmp/x"], ["--search", "a", "--to", "/tmp/x"], []):
        refused = runner.invoke(app, ["restore", "cli", *args])
        assert refused.exit_code == 2, (args, refused.output)
