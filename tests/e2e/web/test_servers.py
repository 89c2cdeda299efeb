"""The add-server form and the Backup tab's banners with their one-click fixes."""

from __future__ import annotations

import subprocess

from playwright.sync_api import Page, expect

from tests.e2e.web.conftest import login
from tests.support.sshd import SSHBed


def _cron_pids() -> list[str]:
    return subprocess.run(["pgrep", "-x", "cron"], capture_output=True, text=True).stdout.split()


def test_it_adds_a_server_and_shows_a_bad_port_next_to_its_field(page: Page, sshd: SSHBed) -> None:
    login(page)
    page.goto("/servers/new")
    page.fill("#f-name", "web1")
    page.fill("#f-host", sshd.host)
    page.fill("#f-port", "99999")
    page.fill("#f-user", sshd.user)
    page.fill("#f-key", str(sshd.key))
    page.click("#server-form button[type=submit]")
    error = page.locator(".field.has-error .field-error[data-field=port]")
    expect(error).to_contain_text("between 1 and 65535")
    expect(page.locator("#f-host")).to_have_value(sshd.host)  # what was typed is kept

    page.fill("#f-port", str(sshd.port))
    page.click("#server-form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("web1")
    # The check reached the server over real SSH: no "cannot be reached" banner.
    banners = page.locator("#banners")
    expect(banners.locator("[data-banner]").first).to_be_visible()
    expect(banners.locator("[data-banner=unreachable]")).to_have_count(0)


def test_it_starts_cron_from_its_banner_and_the_banner_clears(
    page: Page, cron_stopped: None
) -> None:
    login(page)
    page.goto("/servers/new")
    page.fill("#f-name", "here")
    page.check("input[name=local]")
    page.click("#server-form button[type=submit]")

    banner = page.locator("[data-banner=cron_stopped]")
    expect(banner).to_contain_text("Cron is installed but the service is not running")
    banner.get_by_role("button", name="Start Cron Service").click()

    expect(page.locator(".fix-result[data-fixed=yes]")).to_contain_text("Start Cron Service")
    expect(page.locator("[data-banner=cron_stopped]")).to_have_count(0)
    assert _cron_pids()  # cron_stopped stops the daemon this test started


def test_a_malformed_query_is_a_page_naming_the_field_not_json(page: Page) -> None:
    login(page)
    response = page.goto("/?page=second")
    assert response is not None and response.status == 422
    expect(page.locator(".form-error")).to_contain_text("page: ")
    expect(page.locator("body")).not_to_contain_text('"detail"')
