"""The web UI at fleet scale: the overview with 200 servers, 1,000 jobs, 500,000 runs.

A store is filled directly (servers with a kept check and banners, jobs on them, runs
spread over each job's past), then the real app is asked for pages in-process (httpx's
ASGI transport, a logged-in session; the sync monitor is off, so no SSH is involved):

- ``/``: the fleet overview (every server's banners, every job's indicator);
- ``/servers/NAME``: one Backup tab (5 jobs);
- ``/jobs/NAME/detail``: one job's history chart;
- ``/login``: the baseline, a page that reads nothing from the store.

Medians of ``--reps`` requests are printed in ms and as ratios to the baseline. Target
(issue #7): the overview under 200 ms at the median. Usage:

    .venv/bin/python bench/web_overview.py [--servers 200] [--jobs 1000] [--runs 500000]

``--log-mb N`` also times the log view's last page of an N MB log on a real server
(loopback sshd; needs root to create the bench user), against ``tail -c`` over the same
SSH connection as the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "bench-password-0123456789"


def fill(n_servers: int, n_jobs: int, n_runs: int) -> None:
    """Write the fleet straight into the store (fast executemany, no SSH)."""
    from sqlalchemy import insert

    from ctrlops.store import secrets
    from ctrlops.store.db import session
    from ctrlops.store.models import Destination, Job, Run, Server

    rng = random.Random(7)
    now = datetime.now(UTC)
    banner = {"id": "disk_low", "severity": "warning", "text": "Disk almost full",
              "fix": None, "evidence": "12 MiB free of 20 GiB (99% used) on /"}  # fmt: skip
    with session() as s:
        s.execute(
            insert(Destination),
            [{"name": "store", "provider": "minio", "bucket": "b", "prefix": "",
              "endpoint": "http://127.0.0.1:9", "access_key_id": "K",
              "secret_enc": secrets.encrypt("S"), "last_test": {}}],
        )  # fmt: skip
        s.execute(
            insert(Server),
            [
                {
                    "name": f"srv{i:03d}",
                    "kind": "ssh",
                    "host": "127.0.0.1",
                    "port": 22,
                    "user": "backup",
                    "facts": {"os": "Debian 12", "timezone": "UTC"},
                    "checked_at": now,
                    "last_check": {
                        "server": f"srv{i:03d}",
                        "ok": True,
                        "layer": None,
                        "banners": [banner] if i % 10 == 0 else [],
                    },
                }
                for i in range(n_servers)
            ],
        )
        s.execute(
            insert(Job),
            [
                {
                    "name": f"job{j:04d}",
                    "uid": f"job{j:04d}-{j:08x}",
                    "server_id": 1 + j % n_servers,
                    "destination_id": 1,
                    "sources": ["/srv/data"],
                    "excludes": [],
                    "prefix": "",
                    # 120 distinct schedules: a page shares the math of equal ones.
                    "schedule": f"{j % 60} {'*' if j % 2 else '*/6'} * * *",
                    "timezone": "UTC",
                    "mode": "copy",
                    "options": {},
                    "enabled": True,
                    "deployed_at": now - timedelta(days=30),
                }
                for j in range(n_jobs)
            ],
        )
    per_job = n_runs // n_jobs
    batch: list[dict[str, Any]] = []
    with session() as s:
        for j in range(n_jobs):
            for k in range(per_job):
                started = now - timedelta(hours=per_job - k)
                state = "failed" if rng.random() < 0.03 else "success"
                batch.append(
                    {
                        "job_id": j + 1,
                        "run_id": f"{started:%Y%m%dT%H%M%SZ}-{k}",
                        "state": state,
                        "trigger": "cron",
                        "started": started,
                        "finished": started + timedelta(seconds=40),
                        "exit_code": 0 if state == "success" else 1,
                        "files_transferred": rng.randint(0, 500),
                        "bytes_transferred": rng.randint(0, 10**9),
                        "checks": 1000,
                        "errors": 0,
                        "diagnosis": {} if state == "success" else {"category": "network"},
                    }
                )
            if len(batch) >= 20_000:
                s.execute(insert(Run), batch)
                batch.clear()
        if batch:
            s.execute(insert(Run), batch)


async def timed_pages(reps: int) -> dict[str, list[float]]:
    import httpx

    from ctrlops.services.monitor import Monitor
    from ctrlops.web.app import create_app

    app = create_app(monitor=Monitor(interval=float("inf"), busy_interval=float("inf")))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        page = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, "no CSRF token on the login page"
        r = await client.post("/login", data={"password": PASSWORD, "csrf_token": token[1]})
        assert r.status_code == 303, r.text[:300]
        paths = {
            "overview /": "/",
            "overview page 20": "/?page=20",
            "overview problems": "/?show=problems",
            "backup tab": "/servers/srv007",
            "job history": "/jobs/job0007/detail",
            "baseline /login": "/login",
        }
        times: dict[str, list[float]] = {k: [] for k in paths}
        for _ in range(2):  # warm: templates compiled, SQLite pages cached
            for path in paths.values():
                await client.get(path)
        for _ in range(reps):
            for label, path in paths.items():
                t0 = time.perf_counter()
                r = await client.get(path)
                times[label].append(time.perf_counter() - t0)
                assert r.status_code == 200, (path, r.status_code)
        overview = (await client.get("/")).text
        # Every job counted, one page of rows (problems first) shown.
        assert re.search(r"of 1,?000 jobs not covered", overview), "the summary lost jobs"
        assert overview.count('class="job-row"') == 50, "the job table is not paged"
    return times


def log_view(mb: int, reps: int) -> dict[str, list[float]]:
    """The log view's last page of an ``mb`` MB log on a loopback sshd server."""
    import shutil
    import subprocess

    from tests.support.sshd import authorize, ensure_user, free_port, keygen, start_sshd

    from ctrlops.remote.exec import execute
    from ctrlops.server.spec import parse_spec
    from ctrlops.services import jobs, servers
    from ctrlops.store.db import session
    from ctrlops.store.models import Job

    user = "ctrlops-bench"
    work = Path(tempfile.mkdtemp(prefix="ctrlops-bench-log-"))
    work.chmod(0o755)
    home = ensure_user(user)
    key = keygen(work / "id_ed25519")
    authorize(user, home, (work / "id_ed25519.pub").read_text(), None)
    port = free_port()
    proc, _, _ = start_sshd(work, [port], None)
    try:
        servers.add(parse_spec(name="logsrv", host="127.0.0.1", port=port, user=user, key=str(key)))
        with session() as s:
            job = s.get(Job, 1)
            assert job is not None
            job.server_id = servers_id("logsrv")
            uid = job.uid
        run_id = "20261126T000000Z-1"
        rundir = home / ".ctrlops" / "jobs" / uid / "runs" / run_id
        rundir.mkdir(parents=True)
        (rundir / "status").write_text(
            "state=success\ntrigger=manual\nstarted=2026-11-26T00:00:00Z\n"
            "finished=2026-11-26T01:00:00Z\nexit_code=0\n"
        )
        line = b"2026/11/26 00:00:00 INFO  : srv/data/file.bin: Copied (new)\n"
        with (rundir / "rclone.log").open("wb") as f:
            chunk = line * (1024 * 1024 // len(line))
            for _ in range(mb):
                f.write(chunk)
        shutil.chown(home / ".ctrlops", user, user)
        subprocess.run(["chown", "-R", f"{user}:{user}", str(home / ".ctrlops")], check=True)

        async def measure() -> dict[str, list[float]]:
            out: dict[str, list[float]] = {"log view (last page)": [], "bare tail -c": []}
            await jobs.log("job0000", run_id)  # connect once: both reuse the backup shell
            async with servers.open_remote("logsrv") as remote:
                for _ in range(reps):
                    t0 = time.perf_counter()
                    got = await jobs.log("job0000", run_id)
                    out["log view (last page)"].append(time.perf_counter() - t0)
                    assert "Copied (new)" in str(got)
                    t0 = time.perf_counter()
                    await execute(
                        remote,
                        ["tail", "-c", str(jobs.LOG_TAIL), str(rundir / "rclone.log")],
                        timeout=60,
                    )
                    out["bare tail -c"].append(time.perf_counter() - t0)
            await servers.close_all()
            return out

        return asyncio.run(measure())
    finally:
        proc.terminate()
        proc.wait(10)
        subprocess.run(["userdel", "-r", "-f", user], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


def servers_id(name: str) -> int:
    from sqlalchemy import select

    from ctrlops.store.db import session
    from ctrlops.store.models import Server

    with session() as s:
        found = s.scalar(select(Server.id).where(Server.name == name))
        assert found is not None
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=500_000)
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--log-mb", type=int, default=0)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    home = tempfile.mkdtemp(prefix="ctrlops-bench-web-")
    os.environ["CTRLOPS_HOME"] = home
    os.environ["CTRLOPS_ADMIN_PASSWORD"] = PASSWORD
    t0 = time.perf_counter()
    fill(args.servers, args.jobs, args.runs)
    print(
        f"store: {args.servers} servers, {args.jobs} jobs, {args.runs} runs "
        f"(filled in {time.perf_counter() - t0:.1f} s)"
    )
    times = asyncio.run(timed_pages(args.reps))
    if args.log_mb:
        times.update(log_view(args.log_mb, args.reps))
    base = statistics.median(times["baseline /login"])
    print(f"{'page':<22}{'median ms':>11}{'min ms':>9}{'x /login':>10}")
    for label, values in times.items():
        med = statistics.median(values)
        print(f"{label:<22}{med * 1000:>11.1f}{min(values) * 1000:>9.1f}{med / base:>10.1f}")
    if args.log_mb:
        ratio = statistics.median(times["log view (last page)"]) / statistics.median(
            times["bare tail -c"]
        )
        print(f"log view / bare tail over the same SSH connection: {ratio:.2f}")


if __name__ == "__main__":
    main()
