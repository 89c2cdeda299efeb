"""Browse & restore in Chromium: folders, search, ticks across views, Restore, Overwrite."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from ctrlops.services import jobs
from tests.e2e.web.conftest import login, shot
from tests.support.jobs import Bed, add_job, chown, run

RESTORE_TIMEOUT = 90_000
FILES = {
    "top.txt": b"top level",
    "docs/guide.txt": b"the guide\n" * 100,
    "docs/img/logo.png": bytes(range(256)) * 40,
    "photos/2024/Beach.jpg": b"\xff\xd8 beach " * 500,
    "photos/2024/notes.txt": b"not picked",
    "photos/2023/beach-old.jpg": b"older beach",
}
PICKED = ("docs/guide.txt", "docs/img/logo.png", "photos/2024/Beach.jpg")


def sums(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def backed_up(bed: Bed) -> Iterator[Path]:
    """A job "site" with one successful backup of a small tree; its restores removed after."""
    src = bed.tree()
    for rel, data in FILES.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    chown(src, bed.sshd.user)
    # In a thread of its own: Playwright's sync API keeps an event loop running in this
    # one, and asyncio.run() refuses to start a second.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(add_job, bed, "site", [src]).result()
        state = pool.submit(lambda: run(jobs.run_now("site", wait=True))["state"]).result()
    assert state == "success"
    yield src
    shutil.rmtree(bed.sshd.home / "ctrlops-restore", ignore_errors=True)


def row(page: Page, path: Path | str) -> Locator:
    return page.locator(f"#browser tr[data-path='{path}']")


def test_it_browses_searches_picks_a_file_and_a_folder_and_restores_exactly_those(
    page: Page, bed: Bed, backed_up: Path
) -> None:
    src = backed_up
    login(page)
    page.goto("/servers/web1")
    page.locator("tr.job-row[data-job=site]").get_by_role("button", name="Expand").click()
    page.locator(".job-detail[data-job=site]").get_by_role("link", name="Browse & restore").click()
    expect(page.locator("h1")).to_contain_text("Browse & restore")

    # The first view is the folder holding the source; folders open in place.
    expect(row(page, src)).to_have_attribute("data-kind", "dir")
    row(page, src).locator("a.folder").click()
    expect(page.locator("#browser table.files")).to_have_attribute("data-path", str(src))
    expect(row(page, src / "top.txt")).to_be_visible()
    row(page, src / "photos").locator("a.folder").click()
    row(page, src / "photos" / "2024").locator("a.folder").click()
    expect(row(page, src / "photos/2024/notes.txt")).to_be_visible()
    expect(row(page, src / "photos/2024/Beach.jpg")).to_contain_text("4.4 KiB")

    # Search by name from the source down, in any case; tick the file found.
    page.locator("#browser nav.crumbs a", has_text=src.name).click()
    expect(page.locator("#browser table.files")).to_have_attribute("data-path", str(src))
    page.fill("#browser input[name=q]", "BEACH")
    page.locator("#browser form.search").get_by_role("button", name="Search").click()
    expect(page.locator("#browser .found")).to_have_attribute("data-total", "2")
    expect(page.locator("#browser tbody tr")).to_have_count(2)
    row(page, src / "photos/2024/Beach.jpg").locator("input[name=pick]").check()

    # Clearing the search keeps the tick (listed under "Also selected"); tick a folder too.
    page.locator("#browser a.clear").click()
    expect(row(page, src / "docs")).to_be_visible()
    carried = page.locator("#browser .picked input[name=pick]")
    expect(carried).to_have_count(1)
    expect(carried).to_be_checked()
    expect(carried).to_have_value(f"{src}/photos/2024/Beach.jpg")
    row(page, src / "docs").locator("input[name=pick]").check()

    # A target that is not absolute is refused next to its field, nothing is written.
    target = page.input_value("#f-to")
    assert target.startswith(f"{bed.sshd.home}/ctrlops-restore/site-"), target
    assert not Path(target).exists()
    page.fill("#f-to", "relative/dir")
    page.get_by_role("button", name="Restore selected").click()
    expect(page.locator("#restore-form .field-error[data-field=to]")).to_contain_text("absolute")

    page.fill("#f-to", target)
    expect(page.locator("#restore-form input[name=overwrite]")).not_to_be_checked()
    page.get_by_role("button", name="Restore selected").click()
    done = page.locator("#restore-form .restore-done")
    expect(done).to_have_attribute("data-restored", "3", timeout=RESTORE_TIMEOUT)
    expect(done.locator(".where")).to_contain_text(f"{target}{src}/docs")
    shot(page, "browse-restore.png")

    restored = Path(target) / str(src).lstrip("/")
    assert sums(Path(target)) == {
        str(Path(str(src).lstrip("/")) / rel): hashlib.sha256(FILES[rel]).hexdigest()
        for rel in PICKED
    }
    assert list((bed.sshd.home / ".ctrlops" / "tmp").iterdir()) == []

    # The same target again, Overwrite off: existing files are kept, and the page says so.
    (restored / "docs/guide.txt").write_bytes(b"edited after the restore")
    page.get_by_role("button", name="Restore selected").click()
    again = page.locator("#restore-form .restore-done")
    expect(again.locator(".refused")).to_have_attribute("data-count", "3", timeout=RESTORE_TIMEOUT)
    expect(again).to_have_attribute("data-restored", "0")
    expect(again.locator(".refused")).to_contain_text(f"{restored}/docs/guide.txt")
    assert (restored / "docs/guide.txt").read_bytes() == b"edited after the restore"
    assert len(sums(Path(target))) == len(PICKED)


def test_nothing_ticked_a_missing_job_a_bad_path_and_no_csrf_are_refused(
    page: Page, bed: Bed, backed_up: Path
) -> None:
    src = backed_up
    login(page)
    page.goto(f"/jobs/site/files?path={src}")
    expect(row(page, src / "docs")).to_be_visible()
    page.get_by_role("button", name="Restore selected").click()
    expect(page.locator("#restore-form .field-error[data-field=pick]")).to_contain_text(
        "nothing ticked"
    )

    assert page.request.get("/jobs/nope/files").status == 404
    bad = page.request.get(f"/jobs/site/files?path={src}/../../etc")
    assert bad.status == 422
    assert "path: " in bad.text()
    outside = page.request.get("/jobs/site/files?path=/etc")
    assert outside.status == 422
    assert page.request.get("/jobs/site/files?run=not-a-run").status == 422
    # No CSRF token: refused before anything runs.
    target = bed.root / "no-csrf"
    posted = page.request.post("/jobs/site/restore", form={"pick": str(src), "to": str(target)})
    assert posted.status == 403
    assert not target.exists()


def test_a_mirror_job_is_browsed_and_restored_as_an_earlier_run_left_it(
    page: Page, bed: Bed
) -> None:
    src = bed.tree()
    (src / "kept.txt").write_bytes(b"v1")
    (src / "deleted.txt").write_bytes(b"deleted later")
    chown(src, bed.sshd.user)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(add_job, bed, "mirror", [src], mode="mirror").result()
        first = pool.submit(lambda: run(jobs.run_now("mirror", wait=True))).result()
        time.sleep(1.5)  # run ids are in whole seconds
        (src / "deleted.txt").unlink()
        (src / "kept.txt").write_bytes(b"v2, changed")
        second = pool.submit(lambda: run(jobs.run_now("mirror", wait=True))).result()
    assert (first["state"], second["state"]) == ("success", "success")

    login(page)
    page.goto(f"/jobs/mirror/files?path={src}")
    expect(row(page, src / "kept.txt")).to_be_visible()
    expect(row(page, src / "deleted.txt")).to_have_count(0)
    page.select_option("#f-run", first["id"])
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#browser .point-label")).to_be_visible()
    row(page, src).locator("a.folder").click()
    expect(row(page, src / "kept.txt")).to_contain_text("2 B")
    row(page, src / "deleted.txt").locator("input[name=pick]").check()
    row(page, src / "kept.txt").locator("input[name=pick]").check()
    target = bed.root / "as-then"
    page.fill("#f-to", str(target))
    page.get_by_role("button", name="Restore selected").click()
    done = page.locator("#restore-form .restore-done")
    expect(done).to_have_attribute("data-restored", "2", timeout=RESTORE_TIMEOUT)
    restored = target / str(src).lstrip("/")
    assert sums(target) == {
        f"{restored.relative_to(target)}/{name}": hashlib.sha256(data).hexdigest()
        for name, data in {"kept.txt": b"v1", "deleted.txt": b"deleted later"}.items()
    }
