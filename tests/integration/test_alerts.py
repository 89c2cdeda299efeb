"""Alerts delivered through Apprise to a real webhook receiver on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ctrlops.services import alerts, jobs
from ctrlops.services.monitor import Monitor
from tests.support.jobs import Bed, add_job, chown, run


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook endpoint; yields its Apprise URL and the messages it received."""
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            got.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"json://127.0.0.1:{server.server_address[1]}/hook-s3cr3t-token", got
    server.shutdown()


def test_a_failure_is_alerted_once_and_its_recovery_once(
    bed: Bed, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, got = receiver
    alerts.add(url)
    src = bed.root / "later"  # does not exist yet: the run fails
    run(jobs.add(jobs.spec("site", server=bed.server, sources=[str(src)], dest=bed.dest)))
    assert run(jobs.run_now("site", wait=True))["state"] == "failed"

    sent = run(alerts.sweep())
    assert [(s["event"], s["state"], s["delivered"]) for s in sent] == [("bad", "failed", True)]
    assert len(got) == 1
    assert got[0]["title"] == "[ctrlops] site: failed"
    assert "does not exist" in got[0]["message"]

    assert run(alerts.sweep()) == []  # still failing: no spam
    assert len(got) == 1

    src.mkdir(parents=True)
    (src / "f.txt").write_text("x")
    chown(bed.root, bed.sshd.user)
    assert run(jobs.run_now("site", wait=True))["state"] == "success"
    assert [s["event"] for s in run(alerts.sweep())] == ["recovered"]
    assert len(got) == 2 and got[1]["title"] == "[ctrlops] site recovered"


def test_a_test_message_arrives_and_the_url_is_never_shown_or_stored_plain(
    receiver: tuple[str, list[dict[str, Any]]], ctrlops_home: Any
) -> None:
    url, got = receiver
    alerts.add(url)
    assert run(alerts.test()) == {"sent": 1}
    assert got[0]["title"] == "ctrlops test alert"
    assert "s3cr3t" not in json.dumps(alerts.list_all())
    assert b"s3cr3t" not in (ctrlops_home / "ctrlops.db").read_bytes()


def test_a_run_cron_never_started_is_alerted_as_missed_with_the_servers_reason(
    bed: Bed, receiver: tuple[str, list[dict[str, Any]]], cron_stopped: None
) -> None:
    url, got = receiver
    alerts.add(url)
    add_job(bed, "nightly", [bed.tree()], schedule_expr="*/5 * * * *")
    # Nothing failed, nothing ran: twelve minutes on, two runs were due and cron is down.
    later = datetime.now(UTC) + timedelta(minutes=12)
    sent = run(alerts.sweep(now=later))
    assert [(s["event"], s["state"]) for s in sent] == [("bad", "missed")]
    assert got[0]["title"] == "[ctrlops] nightly: missed"
    assert "scheduled runs never started" in got[0]["message"]
    assert "service is not running" in got[0]["message"]  # the server's banner, as the reason
    assert run(alerts.sweep(now=later)) == []  # once per change


def test_the_web_monitor_alerts_after_its_sync_without_a_sweep(
    bed: Bed, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, got = receiver
    alerts.add(url)
    add_job(bed, "site", [bed.root / "missing"])
    assert run(jobs.run_now("site", wait=True))["state"] == "failed"
    monitor = Monitor(interval=float("inf"), busy_interval=float("inf"))
    run(monitor.sync(bed.server))
    assert [m["title"] for m in got] == ["[ctrlops] site: failed"]
    run(monitor.sync(bed.server))
    assert len(got) == 1  # still failing: no second alert
