"""The real web app on a loopback port (uvicorn in a thread) and real Chromium."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from ctrlops.web.app import create_app
from tests.support.sshd import free_port

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox (root in a container), no GPU, and nothing that phones home: loopback only.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "correct horse battery staple"
ARTIFACTS = Path(__file__).parents[3] / "test-artifacts"


@dataclass(frozen=True)
class Web:
    url: str
    password: str


@pytest.fixture
def web(ctrlops_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Web]:
    """The app from ``create_app()`` served by uvicorn on a free loopback port."""
    monkeypatch.setenv("CTRLOPS_ADMIN_PASSWORD", PASSWORD)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=3,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web app did not start")
        time.sleep(0.05)
    try:
        yield Web(f"http://127.0.0.1:{port}", PASSWORD)
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # Package scope: Playwright's sync API keeps an event loop running in this thread
    # until it stops, and the rest of the suite calls asyncio.run().
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, web: Web) -> Iterator[Page]:
    context = browser.new_context(base_url=web.url, viewport={"width": 1280, "height": 900})
    p = context.new_page()
    p.set_default_timeout(30_000)
    expect.set_options(timeout=30_000)
    yield p
    context.close()


def login(page: Page, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("#f-password", password)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Fleet overview")


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    return path
