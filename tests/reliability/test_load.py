"""Load: 200 jobs on one server and 20 servers in one control plane stay right and bounded.

The run history is planted in the runner's own on-server format (a real run's status
record, copied with new ids and times; logs hard-linked), so thousands of runs exist
without running rclone thousands of times. ``bench/load.py`` measures the same at full
size; these tests assert what must hold at any size.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bench.load import NEVER_SOON, PER_SSHD, Template, accepted, measure, pad_log, plant_runs
from sqlalchemy import delete, select

from ctrlops.runner import crontab, layout
from ctrlops.server.spec import parse_spec
from ctrlops.services import jobs, servers, sync
from ctrlops.store.db import session
from ctrlops.store.models import Job, Run
from tests.support.jobs import Bed, chown, run
from tests.support.sshd import IS_ROOT, free_port, start_sshd

JOBS = 200
RUNS = 30  # planted per job: 6,000 runs on one server (bench/load.py plants 10,000)
BIG_JOBS = 10  # jobs whose every planted log is BIG_LOG bytes (hard links: one on disk)
BIG_LOG = 8 * 1024 * 1024
# Peak RSS growth allowed to the process doing the cold sync of those runs. Bounded tails
# keep it within a few MB; one job's 29 older logs read whole are 232 MiB of output.
BOUND_MB = 150
SERVERS = 20
SERVER_RUNS = 20


def owner_of(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid


def real_run(bed: Bed, name: str) -> tuple[dict[str, Any], Path]:
    """Run ``name`` once for real; return the run and its directory on the server."""
    done = run(jobs.run_now(name, wait=True))
    assert done["state"] == "success", done
    runs_dir = bed.sshd.home / layout.job_dir(jobs.get(name).uid) / "runs"
    return done, runs_dir / done["id"]


def stored_runs() -> list[tuple[str, str, str, int]]:
    with session() as s:
        rows = s.execute(select(Job.name, Run.run_id, Run.state, Run.files_transferred).join(Run))
        return [(r[0], r[1], r[2], r[3]) for r in rows]


def sync_env() -> dict[str, str]:
    return {**os.environ, "CTRLOPS_CONNECT_TIMEOUT": "60"}


def test_200_jobs_deploy_and_6000_runs_sync_once_with_bounded_memory(bed: Bed) -> None:
    """Every job's crontab line is there under an intact checksum; a cold sync stores
    every run exactly once over one SSH session without its memory growing with the logs
    (the tails are bounded); a warm sync reads no finished run again."""
    srcs = []
    for i in range(JOBS):
        src = bed.tree(f"src{i:03d}")
        (src / "file.txt").write_text(f"job {i}\n")
        chown(src, bed.sshd.user)
        srcs.append(src)

    async def add_all() -> None:
        for i, src in enumerate(srcs):
            info = jobs.spec(
                f"j{i:03d}",
                server=bed.server,
                sources=[str(src)],
                dest=bed.dest,
                schedule_expr=NEVER_SOON,
                options={"stats_interval": "1s"},
            )
            await jobs.add(info)

    run(add_all())
    text = subprocess.run(
        ["crontab", "-l", "-u", bed.sshd.user], capture_output=True, text=True, check=True
    ).stdout
    block = crontab.parse_block(text)
    assert block is not None and not block.drifted, block
    assert sorted(e.uid for e in block.entries) == sorted(j.uid for j in jobs.list_all())
    assert len(block.entries) == JOBS

    first, run_dir = real_run(bed, "j000")
    template = Template.read(run_dir)
    small = run_dir / "rclone.log"
    big = bed.sshd.home / ".ctrlops" / "big.log"  # hard links need the same file system
    pad_log(small, big, BIG_LOG)
    chown(big, bed.sshd.user)
    planted: set[tuple[str, str]] = {("j000", first["id"])}
    try:
        for i, info in enumerate(jobs.list_all()):
            log = big if i < BIG_JOBS else small
            job_dir = bed.sshd.home / layout.job_dir(info.uid)
            ids = plant_runs(job_dir, template, log, RUNS, owner_of(job_dir))
            planted |= {(info.name, run_id) for run_id in ids}
    finally:
        big.unlink()
    with session() as s:  # as a control plane that never watched: an empty cache
        s.execute(delete(Run))

    logins = accepted([bed.sshd.log])
    cold = measure("sync-cold", sync_env(), limit_mb=BOUND_MB, timeout=600)
    assert accepted([bed.sshd.log]) - logins == 1  # one SSH session for the whole server
    growth_mb = (cold["peak_kb"] - cold["base_kb"]) / 1024
    assert growth_mb < BOUND_MB, cold
    assert cold["runs"] == len(planted) == JOBS * RUNS + 1

    rows = stored_runs()
    counts = Counter((job, run_id) for job, run_id, _, _ in rows)
    assert set(counts) == planted
    assert set(counts.values()) == {1}
    # Every tail was read and understood: the counts come from each log's final stats.
    assert {(state, files) for _, _, state, files in rows} == {("success", 1)}

    warm = run(sync.sync_all())
    assert [(w.ok, w.runs_read, w.changed_jobs) for w in warm] == [(True, 0, [])]
    assert len(stored_runs()) == len(planted)


@pytest.fixture
def fleet(bed: Bed, tmp_path: Path) -> Iterator[list[Path]]:
    """SERVERS more servers: ports of new sshd daemons logging in as the bed's user."""
    keys = None if IS_ROOT else bed.sshd.key.parent / "authorized_keys"
    ports: list[int] = []
    while len(ports) < SERVERS:
        port = free_port()
        if port not in ports:
            ports.append(port)
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    try:
        for i in range(0, SERVERS, PER_SSHD):
            work = tmp_path / f"sshd{i}"
            work.mkdir()
            work.chmod(0o755)
            proc, log, _ = start_sshd(work, ports[i : i + PER_SSHD], keys)
            procs.append(proc)
            logs.append(log)
        for i, port in enumerate(ports):
            spec = parse_spec(
                name=f"s{i:02d}", host="127.0.0.1", port=port, user=bed.sshd.user,
                key=str(bed.sshd.key),
            )  # fmt: skip
            servers.add(spec)
        yield logs
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


def test_20_servers_check_and_sync_in_one_ssh_session_each(bed: Bed, fleet: list[Path]) -> None:
    """check-all and sync-all reach every server with one login each (a sync's check and
    its run records share the session), store every run once, and re-read none."""
    names = [f"s{i:02d}" for i in range(SERVERS)]

    async def add(name: str) -> None:
        src = bed.tree(f"data-{name}")
        (src / "file.txt").write_text(name)
        chown(src, bed.sshd.user)
        info = jobs.spec(
            f"{name}-job",
            server=name,
            sources=[str(src)],
            dest=bed.dest,
            options={"stats_interval": "1s"},
        )
        await jobs.add(info)

    async def add_all() -> None:
        await asyncio.gather(*(add(n) for n in names))

    run(add_all())
    _, run_dir = real_run(bed, "s00-job")
    template = Template.read(run_dir)
    expected = 1
    for info in jobs.list_all():
        job_dir = bed.sshd.home / layout.job_dir(info.uid)
        plant_runs(job_dir, template, run_dir / "rclone.log", SERVER_RUNS, owner_of(job_dir))
        expected += SERVER_RUNS
    with session() as s:
        s.execute(delete(Run))

    logins = accepted(fleet)
    checks = run(servers.check_all())
    assert [(c["server"], c["ok"]) for c in checks if c["server"] != bed.server] == [
        (n, True) for n in names
    ]
    assert accepted(fleet) - logins == SERVERS

    logins = accepted(fleet)
    cold = {r.server: r for r in run(sync.sync_all(names))}
    assert accepted(fleet) - logins == SERVERS  # check and records share the session
    assert {n: (r.ok, r.changed_jobs) for n, r in cold.items()} == {
        n: (True, [f"{n}-job"]) for n in names
    }
    assert sum(r.runs_read for r in cold.values()) == expected
    assert len(stored_runs()) == expected

    warm = run(sync.sync_all(names))
    assert [(w.ok, w.runs_read) for w in warm] == [(True, 0)] * SERVERS
