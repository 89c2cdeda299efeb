"""Syncing a server brings every run record of every job into the store, once."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest
from bench.load import Template, accepted, plant_runs
from sqlalchemy import delete, select

from ctrlops.remote.base import Remote, Result
from ctrlops.runner import layout
from ctrlops.services import jobs, sync
from ctrlops.store.db import session
from ctrlops.store.models import Run
from tests.support.jobs import Bed, chown, run
from tests.support.jobs import add_job as add


def stored(job: str) -> dict[str, Run]:
    with session() as s:
        rows = s.scalars(select(Run).join(Run.job).where(Run.job.has(name=job)))
        return {r.run_id: r for r in rows}


def forget_runs() -> None:
    with session() as s:
        s.execute(delete(Run))


def test_it_stores_every_run_with_its_counts_and_reads_a_finished_run_once(bed: Bed) -> None:
    src = bed.tree()
    (src / "a.txt").write_text("alpha")
    chown(src, bed.sshd.user)
    add(bed, "site", [src])
    add(bed, "typo", [bed.sshd.home / "no-such-dir"])
    ran = [run(jobs.run_now("site", wait=True)) for _ in range(3)]
    failed = run(jobs.run_now("typo", wait=True))
    forget_runs()  # as a control plane that never watched these runs

    first = run(sync.sync_server("web1"))
    assert first.ok, first.as_dict()
    assert sorted(first.changed_jobs) == ["site", "typo"]
    assert first.runs_read == 4
    site = stored("site")
    assert set(site) == {r["id"] for r in ran}
    assert [site[r["id"]].files_transferred for r in ran] == [1, 0, 0]
    assert site[ran[0]["id"]].bytes_transferred == 5
    assert site[ran[2]["id"]].state == "success"
    typo = stored("typo")[failed["id"]]
    assert typo.state == "failed"
    assert typo.diagnosis["category"] == "source_missing"

    again = run(sync.sync_server("web1"))
    assert (again.runs_read, again.changed_jobs) == (0, [])
    check = sync.last_check("web1")
    assert check is not None and check["ok"] is True
    assert check["checked_at"] is not None


def test_a_running_job_is_read_again_until_it_finishes(bed: Bed) -> None:
    src = bed.tree()
    (src / "big.bin").write_bytes(b"\0" * (4 * 1024 * 1024))
    chown(src, bed.sshd.user)
    add(bed, "slow", [src], bwlimit="1M")
    started = run(jobs.run_now("slow"))
    forget_runs()
    seen = run(sync.sync_server("web1"))
    assert seen.changed_jobs == ["slow"]
    assert stored("slow")[started["id"]].state == "running"
    deadline = time.monotonic() + 60
    while stored("slow")[started["id"]].state == "running":
        assert time.monotonic() < deadline, "the run never finished"
        time.sleep(1)
        run(sync.sync_server("web1"))
    row = stored("slow")[started["id"]]
    assert (row.state, row.files_transferred, row.bytes_transferred) == (
        "success",
        1,
        4 * 1024 * 1024,
    )


def test_a_gap_longer_than_a_routine_sync_is_filled(
    bed: Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync, "RECENT", 2)
    src = bed.tree()
    chown(src, bed.sshd.user)
    add(bed, "often", [src])
    first = run(jobs.run_now("often", wait=True))
    forget_runs()
    run(sync.sync_server("web1"))
    assert set(stored("often")) == {first["id"]}
    later = [run(jobs.run_now("often", wait=True)) for _ in range(4)]
    with session() as s:  # run_now caches what it watched; forget that, keep the first
        s.execute(delete(Run).where(Run.run_id.in_([r["id"] for r in later])))
    result = run(sync.sync_server("web1"))
    assert result.runs_read == 4
    assert set(stored("often")) == {first["id"], *(r["id"] for r in later)}


def test_an_unreachable_server_is_reported_and_kept_as_its_last_check(bed: Bed) -> None:
    from ctrlops.server.spec import parse_spec
    from ctrlops.services import servers
    from tests.support.sshd import free_port

    servers.add(parse_spec(name="gone", host="127.0.0.1", port=free_port(), user="nobody"))
    results = {r.server: r for r in run(sync.sync_all(timeout=5))}
    assert results["web1"].ok
    assert not results["gone"].ok
    check = sync.last_check("gone")
    assert check is not None and check["layer"] == "tcp"


def test_records_are_read_a_batch_of_jobs_at_a_time_over_one_session(
    bed: Bed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A status command carries at most STATUS_BATCH jobs (what the control plane holds at
    once follows the batch, not the server); a gap in a later batch is still filled."""
    monkeypatch.setattr(sync, "STATUS_BATCH", 2)
    names = [f"b{i}" for i in range(5)]
    for name in names:
        src = bed.tree()
        (src / "f.txt").write_text(name)
        chown(src, bed.sshd.user)
        add(bed, name, [src])
    real = run(jobs.run_now("b0", wait=True))
    runs_dir = bed.sshd.home / layout.job_dir(jobs.get("b0").uid) / "runs"
    template = Template.read(runs_dir / real["id"])
    st = runs_dir.stat()
    planted: dict[str, list[str]] = {}
    for name in names:
        job_dir = bed.sshd.home / layout.job_dir(jobs.get(name).uid)
        log = runs_dir / real["id"] / "rclone.log"
        planted[name] = plant_runs(job_dir, template, log, 3, (st.st_uid, st.st_gid))
    forget_runs()

    jobs_per_command: list[int] = []
    real_execute = sync.execute

    async def spy(remote: Remote, argv: Sequence[str], **kw: Any) -> Result:
        result = await real_execute(remote, argv, **kw)
        if argv[:2] == ["sh", "-c"] and argv[2] == sync._STATUS:
            jobs_per_command.append(result.stdout.count("\n@@job "))
        return result

    monkeypatch.setattr(sync, "execute", spy)
    logins = accepted([bed.sshd.log])
    first = run(sync.sync_server("web1"))
    assert accepted([bed.sshd.log]) - logins == 1  # check, records and tails: one session
    assert first.ok, first.as_dict()
    assert jobs_per_command == [2, 2, 1]
    assert first.runs_read == 5 * 3 + 1
    assert sorted(first.changed_jobs) == names
    for name in names:
        expected = set(planted[name]) | ({real["id"]} if name == "b0" else set())
        assert set(stored(name)) == expected

    # b3 (in the second batch) lost its two newest runs from the store: a routine sync
    # that asks for its 2 newest records meets none it knows, and reads all of them.
    monkeypatch.setattr(sync, "RECENT", 2)
    with session() as s:
        lost = Run.run_id.in_(planted["b3"][1:])  # planted ids repeat from job to job
        s.execute(delete(Run).where(lost, Run.job.has(name="b3")))
    jobs_per_command.clear()
    again = run(sync.sync_server("web1"))
    assert (again.runs_read, again.changed_jobs) == (2, ["b3"])
    assert jobs_per_command == [2, 2, 1, 1]  # the third command: b3 again, whole
    assert set(stored("b3")) == set(planted["b3"])
