"""Syncing a server brings every run record of every job into the store, once."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import delete, select

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
