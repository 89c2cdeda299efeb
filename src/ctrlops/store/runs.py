"""Cached run records: written by whoever read them first (a sync, Run Now, a status)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects.sqlite import insert

from ctrlops.store.db import session
from ctrlops.store.models import Run


def _row(job_id: int, run: dict[str, Any]) -> dict[str, Any]:
    def when(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return {
        "job_id": job_id,
        "run_id": run["id"],
        "state": run["state"],
        "trigger": run["trigger"],
        "started": when(run["started"]),
        "finished": when(run["finished"]),
        "exit_code": run["exit_code"],
        "files_transferred": run["files_transferred"],
        "bytes_transferred": run["bytes_transferred"],
        "checks": run["checks"],
        "errors": run["errors"],
        "diagnosis": run["diagnosis"] or {},
    }


def upsert(job_id: int, runs: list[dict[str, Any]]) -> None:
    """Insert or update ``runs`` (as ``jobs.interpret`` returns them) of job ``job_id``.

    One statement with ON CONFLICT: the web UI's sync and a CLI's Run Now may store the
    same run at the same moment, and neither may fail for it.
    """
    if not runs:
        return
    stmt = insert(Run).values([_row(job_id, r) for r in runs])
    updated = {
        c: stmt.excluded[c]
        for c in ("state", "trigger", "started", "finished", "exit_code", "files_transferred",
                  "bytes_transferred", "checks", "errors", "diagnosis")
    }  # fmt: skip
    with session() as s:
        s.execute(stmt.on_conflict_do_update(index_elements=["job_id", "run_id"], set_=updated))
