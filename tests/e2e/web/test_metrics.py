"""/metrics scraped over HTTP from the running app, parsed with Prometheus's own parser."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ctrlops.services import jobs, metrics, sync
from tests.e2e.web.conftest import Web
from tests.support.jobs import Bed, chown, run
from tests.support.jobs import add_job as add

SYNC_WAIT = 60.0


def scrape(web: Web) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = httpx.get(
        f"{web.url}/metrics", headers={"Authorization": f"Bearer {metrics.token()}"}, timeout=10
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def sample(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
           **labels: str) -> float | None:  # fmt: skip
    return found.get((name, tuple(sorted(labels.items()))))


def test_a_scraper_needs_the_token(web: Web) -> None:
    assert httpx.get(f"{web.url}/metrics", timeout=10).status_code == 401
    wrong = httpx.get(f"{web.url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401
    assert "WWW-Authenticate" in wrong.headers


def test_it_reports_each_jobs_last_run_and_success_and_each_servers_banners(
    bed: Bed, web: Web
) -> None:
    src = bed.tree()
    (src / "a.txt").write_text("alpha")
    chown(src, bed.sshd.user)
    with ThreadPoolExecutor(1) as pool:
        pool.submit(add, bed, "site", [src]).result()
        pool.submit(add, bed, "typo", [bed.sshd.home / "no-such-dir"]).result()
    # A thread of its own: Playwright's browser (same package) keeps a loop running here.
    with ThreadPoolExecutor(1) as pool:
        ok = pool.submit(run, jobs.run_now("site", wait=True)).result()
        pool.submit(run, jobs.run_now("typo", wait=True)).result()

    deadline = time.monotonic() + SYNC_WAIT
    while True:  # the app's own monitor checks web1 and brings its runs in
        found = scrape(web)
        if sample(found, "ctrlops_server_reachable", server="web1") == 1.0:
            break
        assert time.monotonic() < deadline, "the app never synced web1"
        time.sleep(0.5)

    site = {"job": "site", "server": "web1"}
    assert sample(found, "ctrlops_job_last_run_state", **site, state="success") == 1.0
    assert sample(found, "ctrlops_job_last_run_state", **site, state="failed") == 0.0
    assert sample(found, "ctrlops_job_last_run_files_transferred", **site) == 1.0
    assert sample(found, "ctrlops_job_last_run_bytes_transferred", **site) == 5.0
    started = sample(found, "ctrlops_job_last_success_timestamp_seconds", **site)
    assert started == pytest.approx(datetime.fromisoformat(ok["started"]).timestamp())
    # The README's example alert: no successful backup for 26 h. It must not fire here.
    assert time.time() - started < 26 * 3600
    assert sample(found, "ctrlops_job_covered", **site) == 1.0

    typo = {"job": "typo", "server": "web1"}
    assert sample(found, "ctrlops_job_last_run_state", **typo, state="failed") == 1.0
    assert sample(found, "ctrlops_job_indicator", **typo) == 2.0
    assert sample(found, "ctrlops_job_last_success_timestamp_seconds", **typo) is None
    assert sample(found, "ctrlops_job_covered", **typo) == 0.0

    check = sync.last_check("web1")
    assert check is not None
    for severity in ("error", "warning", "info"):
        shown = [b for b in check["banners"] if b["severity"] == severity]
        assert sample(found, "ctrlops_server_banners", server="web1", severity=severity) == len(
            shown
        )
