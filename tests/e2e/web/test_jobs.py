"""Jobs in the Backup tab: create, Run Now live, View Log, Ask AI, Kill, Test Connection."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from ctrlops.ai import settings as ai_settings
from tests.e2e.web.conftest import login, shot
from tests.support.fake_ai import MODEL, FakeAI
from tests.support.jobs import Bed, chown

DOCS_SHOT = Path(__file__).parents[3] / "docs" / "overview.png"
RUN_TIMEOUT = 90_000


def _add_job(page: Page, name: str, source: str, *, dest: str = "store", **extra: str) -> None:
    page.goto("/jobs/new?server=web1")
    page.fill("#f-name", name)
    page.fill("#f-source", source)
    page.select_option("#f-dest", dest)
    page.fill("#f-schedule", extra.pop("schedule", ""))
    for field, value in extra.items():
        page.fill(f"#f-{field}", value)
    page.click("#job-form button[type=submit]")
    expect(page.locator(f"tr.job-row[data-job='{name}']")).to_be_visible()


def _row(page: Page, name: str) -> Locator:
    return page.locator(f"tr.job-row[data-job='{name}']")


def _expand(page: Page, name: str) -> None:
    _row(page, name).get_by_role("button", name="Expand").click()
    expect(page.locator(f".job-detail[data-job='{name}']")).to_be_visible()


def test_it_previews_a_schedule_in_words_and_next_runs_as_you_type(page: Page, bed: Bed) -> None:
    login(page)
    page.goto("/jobs/new?server=web1")
    page.fill("#f-schedule", "*/5 * * * *")
    expect(page.locator("#schedule-preview .words")).to_contain_text("Every fifth minute")
    expect(page.locator("#schedule-preview .next-runs li")).to_have_count(5)
    page.fill("#f-schedule", "61 * * * *")
    expect(page.locator("#schedule-preview .field-error")).to_be_visible()


def test_it_runs_a_job_live_shows_its_log_and_asks_the_ai_about_a_failure(
    page: Page, bed: Bed, fake_ai: FakeAI
) -> None:
    ai_settings.save(base_url=fake_ai.base_url, model=MODEL)
    fake_ai.answer(FakeAI.ok("Cause: the path /srv/typo does not exist. Fix: correct it."))
    src = bed.tree()
    (src / "index.html").write_text("<h1>hello</h1>")
    (src / "app.js").write_text("console.log(1)\n" * 500)
    chown(src, bed.sshd.user)

    login(page)
    _add_job(page, "site", str(src), schedule="0 2 * * *")
    _expand(page, "site")
    page.get_by_role("button", name="Run Now").click()
    # Live: the row polls the server every 2 s and turns to success by itself.
    expect(_row(page, "site")).to_have_attribute("data-state", "success", timeout=RUN_TIMEOUT)
    expect(_row(page, "site").locator(".dot")).to_have_attribute("data-indicator", "green")

    _expand(page, "site")  # again: the history now has the run
    detail = page.locator(".job-detail[data-job='site']")
    expect(detail.locator("table.runs tr[data-state=success]")).to_have_count(1)
    expect(detail.locator(".chart svg rect.bar")).to_have_count(1)
    expect(detail.locator(".dest-card")).to_contain_text(bed.bucket)
    expect(detail.locator(".dest-card")).not_to_contain_text(bed.s3.rw.secret_access_key)
    detail.get_by_role("button", name="View Log").first.click()
    log = page.locator(".log[data-state=success]")
    expect(log.locator(".diagnosis")).to_contain_text("2 files")
    expect(log.locator("pre.logtext")).to_contain_text("index.html")

    _add_job(page, "broken", "/srv/typo-does-not-exist")
    _expand(page, "broken")
    page.get_by_role("button", name="Run Now").click()
    expect(_row(page, "broken")).to_have_attribute("data-state", "failed", timeout=RUN_TIMEOUT)
    expect(_row(page, "broken").locator(".dot")).to_have_attribute("data-indicator", "red")

    page.goto("/")
    expect(page.locator("[data-not-covered]")).to_have_text("1")
    expect(page.locator("#fleet-jobs tr.job-row[data-job=site] .dot.green")).to_be_visible()
    expect(page.locator("#fleet-jobs tr.job-row[data-job=broken] .dot.red")).to_be_visible()
    expect(page.locator("#server-web1 .banners [data-banner]").first).to_be_visible()
    # Problems first, and a filter that shows only them.
    expect(page.locator("#fleet-jobs tr.job-row").first).to_have_attribute("data-job", "broken")
    expect(page.locator("[data-count=red]")).to_have_text("1")
    overview = shot(page, "overview.png")
    if os.environ.get("CTRLOPS_UPDATE_SCREENSHOTS"):  # refresh the README's picture
        shutil.copy(overview, DOCS_SHOT)

    page.locator("a[data-show=problems]").click()
    expect(page.locator("#fleet-jobs tr.job-row")).to_have_count(1)
    expect(page.locator("#fleet-jobs tr.job-row")).to_have_attribute("data-job", "broken")

    page.goto("/servers/web1")
    _expand(page, "broken")
    page.locator(".job-detail[data-job=broken]").get_by_role(
        "button", name="View Log"
    ).first.click()
    log = page.locator(".log[data-state=failed]")
    expect(log.locator(".diagnosis")).to_contain_text("does not exist")
    # The diagnosis comes before the log text.
    diagnosis_box, log_box = (
        log.locator(".diagnosis").bounding_box(),
        log.locator("pre").bounding_box(),
    )
    assert diagnosis_box is not None and log_box is not None
    assert diagnosis_box["y"] < log_box["y"]
    log.get_by_role("button", name="Ask AI").click()
    panel = page.locator(".ai-panel")
    expect(panel.locator(".diagnosis")).to_contain_text("does not exist")
    expect(panel.locator(".ai-answer[data-ai=ok]")).to_contain_text("/srv/typo does not exist")
    shot(page, "failed-job-log.png")


def test_it_kills_a_slow_run_after_confirmation(page: Page, bed: Bed) -> None:
    src = bed.tree()
    (src / "big.bin").write_bytes(b"\0" * (8 * 1024 * 1024))
    chown(src, bed.sshd.user)
    login(page)
    _add_job(page, "slow", str(src), bwlimit="100k")
    _expand(page, "slow")
    page.get_by_role("button", name="Run Now").click()
    expect(_row(page, "slow")).to_have_attribute("data-state", "running")

    page.once("dialog", lambda d: d.dismiss())
    page.get_by_role("button", name="Kill This Process").click()
    page.wait_for_timeout(3000)  # two polls: still running after "Cancel"
    expect(_row(page, "slow")).to_have_attribute("data-state", "running")

    messages: list[str] = []
    page.once("dialog", lambda d: (messages.append(d.message), d.accept()))
    page.get_by_role("button", name="Kill This Process").click()
    expect(_row(page, "slow")).to_have_attribute("data-state", "killed")
    assert "Kill This Process?" in messages[0]


def test_it_shows_a_destination_error_by_field_and_test_connection_step_by_step(
    page: Page, bed: Bed
) -> None:
    login(page)
    page.goto("/destinations/new")
    page.fill("#f-name", "badkey")
    page.select_option("#f-provider", "minio")
    page.fill("#f-bucket", "A")
    page.fill("#f-endpoint", bed.s3.endpoint)
    page.fill("#f-access_key_id", bed.s3.rw.access_key_id)
    page.fill("#f-secret", "not-the-secret")
    page.click("#dest-form button[type=submit]")
    expect(page.locator(".field-error[data-field=bucket]")).to_contain_text("3-63")
    expect(page.locator("#f-secret")).to_have_value("")  # never echoed back

    page.fill("#f-bucket", bed.bucket)
    page.fill("#f-secret", "not-the-secret")
    page.click("#dest-form button[type=submit]")
    expect(page.locator("tr[data-dest=badkey]")).to_contain_text("********")

    _add_job(page, "wrongsecret", str(bed.tree()), dest="badkey")
    _expand(page, "wrongsecret")
    page.get_by_role("button", name="Test Connection").click()
    result = page.locator(".test[data-ok=no]")
    expect(result).to_have_attribute("data-category", "auth_secret")
    expect(result.locator("li.bad")).to_have_count(1)
    expect(result.locator("li.ok").first).to_be_visible()
    expect(result.locator(".fix")).to_be_visible()
