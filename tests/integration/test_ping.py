"""The dead man's switch: the server pings a healthchecks-style URL by itself."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ctrlops.errors import InputError
from ctrlops.services import jobs
from tests.support.jobs import Bed, chown, run


@pytest.fixture
def monitor() -> Iterator[tuple[str, list[str]]]:
    """A healthchecks-compatible endpoint on loopback; yields its URL and the pings seen."""
    pings: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            pings.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ping/5f1c-uuid", pings
    server.shutdown()


def wait_for(pings: list[str], n: int) -> list[str]:
    for _ in range(100):
        if len(pings) >= n:
            break
        time.sleep(0.1)
    return pings


def add(bed: Bed, name: str, src: Path, url: str) -> None:
    info = jobs.spec(
        name, server=bed.server, sources=[str(src)], dest=bed.dest, options={"ping_url": url}
    )
    run(jobs.add(info))


def test_it_pings_start_and_success(bed: Bed, monitor: tuple[str, list[str]]) -> None:
    url, pings = monitor
    src = bed.tree()
    (src / "f").write_text("x")
    chown(src, bed.sshd.user)
    add(bed, "pinged", src, url)
    assert run(jobs.run_now("pinged", wait=True))["state"] == "success"
    assert sorted(wait_for(pings, 2)) == ["/ping/5f1c-uuid", "/ping/5f1c-uuid/start"]


def test_it_pings_fail_when_the_run_fails(bed: Bed, monitor: tuple[str, list[str]]) -> None:
    url, pings = monitor
    add(bed, "broken", bed.root / "missing", url)
    assert run(jobs.run_now("broken", wait=True))["state"] == "failed"
    assert wait_for(pings, 2) and "/ping/5f1c-uuid/fail" in pings


def test_a_ping_url_that_could_break_out_is_refused(bed: Bed) -> None:
    with pytest.raises(InputError) as e:
        jobs.spec(
            "x",
            server=bed.server,
            sources=["/srv"],
            dest=bed.dest,
            options={"ping_url": 'http://h/a"\nurl = "file:///etc/shadow'},
        )
    assert e.value.field == "--ping-url"
