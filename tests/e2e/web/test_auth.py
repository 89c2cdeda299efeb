"""Logging in, CSRF, cookies and headers, in Chromium against the real app."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.web.conftest import Web, login


def test_it_redirects_an_anonymous_visitor_to_login_and_refuses_a_wrong_password(
    page: Page, web: Web
) -> None:
    page.goto("/")
    expect(page).to_have_url(f"{web.url}/login")

    page.fill("#f-password", "not the password")
    page.click("button[type=submit]")
    expect(page.locator(".form-error")).to_have_text("Wrong password.")
    expect(page).to_have_url(f"{web.url}/login")

    login(page)
    cookie = next(c for c in page.context.cookies() if c["name"] == "ctrlops_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"


def test_it_sends_a_self_only_content_security_policy(page: Page, web: Web) -> None:
    response = page.goto("/login")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert response.headers["x-frame-options"] == "DENY"


def test_it_refuses_a_post_without_the_csrf_token(page: Page, web: Web) -> None:
    login(page)
    # The browser's own session cookie, but no token: what a forged cross-site form sends.
    forged = page.request.post("/servers", form={"name": "evil", "local": "on"})
    assert forged.status == 403
    page.goto("/")
    expect(page.locator("#summary")).to_contain_text("0 servers")


def test_it_limits_failed_logins_per_client(web: Web) -> None:
    with httpx.Client(base_url=web.url, timeout=60) as client:
        token_page = client.get("/login").text
        token = token_page.split('name="csrf_token" value="')[1].split('"')[0]
        codes = [
            client.post("/login", data={"csrf_token": token, "password": "nope"}).status_code
            for _ in range(6)
        ]
        assert codes == [401] * 5 + [429]
        right = client.post("/login", data={"csrf_token": token, "password": web.password})
        assert right.status_code == 429  # even the right password waits out the minute
