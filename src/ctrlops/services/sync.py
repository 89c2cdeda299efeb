"""Bring what the servers know into the store: one SSH session per server, all its jobs.

The server is the source of truth for runs; the web UI, alerts and metrics read the store.
A sync of one server is: ``server check`` (facts and banners, kept as the server's last
check), then, for each batch of its jobs, one command printing their newest run records
and batched log tails for the runs that are new or still going (their counts and
diagnosis live in the log), all over one SSH session.
A finished run already in the store is never read again.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select

from ctrlops.backup import records
from ctrlops.backup.records import RunRecord
from ctrlops.errors import CtrlopsError
from ctrlops.remote.base import Remote
from ctrlops.remote.exec import execute
from ctrlops.runner import layout
from ctrlops.services import destinations, jobs, servers, verification
from ctrlops.store import runs
from ctrlops.store.db import session
from ctrlops.store.models import Job, Run, Server

RECENT = 50  # records asked per job on a routine sync; more only when a gap shows
TAIL_NEWEST = 64 * 1024  # log bytes for a job's newest run: its diagnosis reads the end
TAIL_OLDER = 8 * 1024  # older runs met for the first time: the final stats line suffices
TAIL_BATCH = 32  # logs per command, so a first sync of a long history stays bounded
# Jobs per status command: a batch's records are stored before the next batch is asked
# for, so memory follows the batch, not the number of jobs on the server.
STATUS_BATCH = 25
CONCURRENCY = 16
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

# The records of a batch of jobs in one round trip: "@@job UID" then that job's records.
# Collected by the shell and printed in one go: printed straight into the channel, the
# runner's line-by-line output reaches the control plane as thousands of tiny SSH packets,
# and taking those apart cost more CPU than everything else in a routine sync. (A shell
# variable rather than a temporary file: a full disk on the server cannot truncate it.)
_STATUS = (
    f"PATH={layout.CRON_PATH}; export PATH\n"
    "statuses() {\n"
    '  while [ "$#" -gt 1 ]; do\n'
    "    printf '\\n@@job %s\\n\\n' \"$1\"\n"
    f'    if [ -d "$HOME/{layout.JOBS}/$1" ]; then "$HOME/{layout.RUNNER}" status "$1" "$2"'
    " 2>/dev/null; fi\n"
    "    shift 2\n"
    "  done\n"
    "}\n"
    'out=$(statuses "$@")\n'
    "printf '%s\\n' \"$out\"\n"
)
# Log tails, each after a line "TOKEN UID RUN" (TOKEN is random per call).
_TAILS = (
    'tok=$1 size=$2; shift 2\nwhile [ "$#" -gt 1 ]; do\n'
    '  printf \'\\n%s %s %s\\n\' "$tok" "$1" "$2"\n'
    f'  tail -c "$size" "$HOME/{layout.JOBS}/$1/runs/$2/rclone.log" 2>/dev/null\n'
    "  shift 2\ndone\n"
)


@dataclass
class Synced:
    """What one server's sync found: its check, and the jobs whose runs changed."""

    server: str
    ok: bool
    check: dict[str, Any]
    changed_jobs: list[str] = field(default_factory=list)
    runs_read: int = 0
    error: dict[str, str] | None = None
    check_changed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "ok": self.ok,
            "banners": [b["id"] for b in self.check.get("banners", [])],
            "changed_jobs": self.changed_jobs,
            "runs_read": self.runs_read,
            "error": self.error,
        }


@dataclass(frozen=True)
class _JobRef:
    id: int
    name: str
    uid: str
    provider: str
    stall_window: float
    cached: int  # runs already in the store


def split_sections(text: str, marker: str) -> Iterator[tuple[str, str]]:
    """Yield ``(header, body)`` for each ``\\n<marker> header\\n`` section of ``text``."""
    parts = re.split(rf"(?:^|\n){re.escape(marker)} ([^\n]*)\n", text)
    for i in range(1, len(parts) - 1, 2):
        yield parts[i], parts[i + 1]


def _job_refs(server: str) -> list[_JobRef]:
    with session() as s:
        rows = s.execute(
            select(Job, func.count(Run.id))
            .join(Server, Job.server_id == Server.id)
            .outerjoin(Run, Run.job_id == Job.id)
            .where(Server.name == server)
            .group_by(Job.id)
        ).all()
        return [
            _JobRef(
                job.id,
                job.name,
                job.uid,
                job.destination.provider,
                float(job.options.get("stall_seconds", 600)),
                count,
            )
            for job, count in rows
        ]


async def _statuses(remote: Remote, limits: dict[str, int]) -> dict[str, list[RunRecord]]:
    args = [str(x) for uid, n in limits.items() for x in (uid, n)]
    result = await execute(remote, ["sh", "-c", _STATUS, "sync", *args], timeout=120)
    out: dict[str, list[RunRecord]] = {}
    for uid, body in split_sections(result.stdout, "@@job"):
        recs = [r for r in records.parse_status(body) if _RUN_ID.fullmatch(r.run_id)]
        out[uid.strip()] = recs
    return out


async def _tails(remote: Remote, wanted: list[tuple[str, str]], size: int) -> dict[str, str]:
    """Return ``{uid/run: log tail}`` for ``wanted``, fetched in bounded batches."""
    out: dict[str, str] = {}
    for start in range(0, len(wanted), TAIL_BATCH):
        batch = wanted[start : start + TAIL_BATCH]
        token = "@@" + secrets.token_hex(8)
        args = [token, str(size), *(x for pair in batch for x in pair)]
        result = await execute(remote, ["sh", "-c", _TAILS, "tails", *args], timeout=120)
        for header, body in split_sections(result.stdout, token):
            uid, _, run = header.partition(" ")
            out[f"{uid}/{run}"] = body
    return out


class _Stored(NamedTuple):
    """What the store holds of a run: enough to tell whether its record changed."""

    state: str
    finished: datetime | None


def _unchanged(row: _Stored | None, record: RunRecord) -> bool:
    if row is None or record.state == records.RUNNING:
        return False
    finished = row.finished.replace(tzinfo=None) if row.finished else None
    new = record.finished.replace(tzinfo=None) if record.finished else None
    return finished == new and row.state not in (records.RUNNING, records.STALLED)


def _stored(ref: _JobRef, recs: list[RunRecord]) -> dict[str, _Stored]:
    """Return what the store holds of ``recs`` (three columns, no ORM objects: a routine sync
    asks this for every record it reads)."""
    if not ref.cached or not recs:
        return {}
    with session() as s:
        rows = s.execute(
            select(Run.run_id, Run.state, Run.finished).where(
                Run.job_id == ref.id, Run.run_id.in_([r.run_id for r in recs])
            )
        )
        return {run_id: _Stored(state, finished) for run_id, state, finished in rows}


async def _sync_job(
    remote: Remote, ref: _JobRef, recs: list[RunRecord], known: dict[str, _Stored]
) -> int:
    """Store the records of one job that are new or changed (``known``: what the store
    holds of them); return how many."""
    fresh = [r for r in recs if not _unchanged(known.get(r.run_id), r)]
    if not fresh:
        return 0
    newest = recs[-1].run_id
    logs: dict[str, str] = {}
    need = [r for r in fresh if r.state in jobs.NEEDS_LOG]
    big = [(ref.uid, r.run_id) for r in need if r.run_id == newest or r.state == records.RUNNING]
    small = [(ref.uid, r.run_id) for r in need if (ref.uid, r.run_id) not in big]
    logs.update(await _tails(remote, big, TAIL_NEWEST))
    for start in range(0, len(small), TAIL_BATCH * 4):  # store as we go: bounded memory
        chunk = small[start : start + TAIL_BATCH * 4]
        part = await _tails(remote, chunk, TAIL_OLDER)
        ids = {run for _, run in chunk}
        runs.upsert(
            ref.id,
            [
                jobs.interpret(r, part.get(f"{ref.uid}/{r.run_id}", ""), ref.provider)
                for r in fresh
                if r.run_id in ids
            ],
        )
    done = {run for _, run in small}
    runs.upsert(
        ref.id,
        [
            jobs.interpret(r, logs.get(f"{ref.uid}/{r.run_id}", ""), ref.provider, ref.stall_window)
            for r in fresh
            if r.run_id not in done
        ],
    )
    return len(fresh)


async def _sync_records(remote: Remote, refs: list[_JobRef]) -> tuple[list[str], int]:
    """Store the new records of every job in ``refs``, STATUS_BATCH jobs at a time (all
    over ``remote``'s one session); return the jobs that changed and the records stored."""
    changed: list[str] = []
    total = 0
    for start in range(0, len(refs), STATUS_BATCH):
        batch = refs[start : start + STATUS_BATCH]
        found = await _statuses(remote, {r.uid: (RECENT if r.cached else 0) for r in batch})
        known = {r.uid: _stored(r, found.get(r.uid, [])) for r in batch}
        # A routine sync that meets no known run has a gap (many runs since): read them all.
        gaps = [
            r
            for r in batch
            if r.cached
            and len(found.get(r.uid, [])) >= RECENT
            and found[r.uid][0].run_id not in known[r.uid]
        ]
        if gaps:
            found.update(await _statuses(remote, {r.uid: 0 for r in gaps}))
            known.update({r.uid: _stored(r, found.get(r.uid, [])) for r in gaps})
        for ref in batch:
            n = await _sync_job(remote, ref, found.pop(ref.uid, []), known.pop(ref.uid))
            if n:
                changed.append(ref.name)
                total += n
    return changed, total


async def _sync_verifies(remote: Remote, server: str) -> list[str]:
    """Store the latest scheduled verification of each job of ``server`` that has one
    (the overview's "verified" badge); return the jobs whose result changed."""
    changed: list[str] = []
    now = datetime.now(UTC)
    for info in jobs.list_all():
        if info.server != server or not info.options.get("verify_schedule"):
            continue
        provider = destinations.show(info.destination)["provider"]
        view = json.loads(json.dumps(await verification.scheduled(remote, info, provider, now=now),
                                     default=str))  # fmt: skip
        with session() as s:
            row = s.scalar(select(Job).where(Job.name == info.name))
            if row is not None and row.last_verify != view:
                row.last_verify = view
                changed.append(info.name)
    return changed


def _banner_key(check: dict[str, Any] | None) -> tuple[Any, ...]:
    if not check:
        return ()
    return (check.get("ok"), check.get("layer"), *(b["id"] for b in check.get("banners", [])))


def _previous(server: str) -> tuple[Any, ...]:
    with session() as s:
        return _banner_key(s.scalar(select(Server.last_check).where(Server.name == server)))


def last_check(server: str) -> dict[str, Any] | None:
    """Return the server's last check as kept by the store (None before the first)."""
    with session() as s:
        row = s.scalar(select(Server).where(Server.name == server))
        if row is None or row.last_check is None:
            return None
        at = row.checked_at
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)  # SQLite hands back naive UTC
        return {**row.last_check, "checked_at": at}


async def sync_server(name: str, *, timeout: float | None = None) -> Synced:
    """Check server ``name`` and store every new run record of its jobs.

    Never raises for a server that cannot be reached: the result says so. Raises
    NotFoundError for an unknown server.
    """
    before = _previous(name)
    check = await servers.check(name, timeout)  # kept by the store as the last check
    result = Synced(name, bool(check["ok"]), check, check_changed=_banner_key(check) != before)
    refs = _job_refs(name)
    if not check["ok"] or not refs:
        return result
    try:
        async with servers.open_remote(name, timeout) as remote:
            result.changed_jobs, result.runs_read = await _sync_records(remote, refs)
            for job in await _sync_verifies(remote, name):
                if job not in result.changed_jobs:
                    result.changed_jobs.append(job)
    except CtrlopsError as e:
        result.ok, result.error = False, e.as_dict()
    return result


async def sync_all(names: list[str] | None = None, *, timeout: float | None = None) -> list[Synced]:
    """Sync every server (or ``names``) concurrently; one bad server never hides the rest."""
    names = names if names is not None else [s.name for s in servers.list_all()]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(name: str) -> Synced:
        async with gate:
            try:
                return await sync_server(name, timeout=timeout)
            except CtrlopsError as e:
                return Synced(name, False, {}, error=e.as_dict())

    return list(await asyncio.gather(*(one(n) for n in names)))
