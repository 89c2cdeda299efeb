"""Read models for the web UI: the fleet overview, one job's run history, web settings.

Everything here reads the runs the store caches (``services.sync`` and the job actions
refresh that cache from the servers, which stay the source of truth). The coverage rule
lives here, pure and time-frozen-testable, so that a job is never shown green while its
schedule went unserved.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import aliased

from ctrlops import schedule
from ctrlops.errors import CtrlopsError, NotFoundError
from ctrlops.services.servers import ServerInfo
from ctrlops.services.servers import list_all as list_servers
from ctrlops.store.db import session
from ctrlops.store.models import Destination, Job, Run, Server, Setting

# "warning" finished after retries: the data is there. "success, nothing copied" is not a
# success: an empty bucket is exactly the silent miss this product exists to catch.
SUCCESS_STATES = frozenset({"success", "warning"})
RED_STATES = frozenset(
    {"failed", "interrupted", "stalled", "killed", "missed", "success, nothing copied"}
)
AMBER_STATES = frozenset({"warning", "skipped"})
# Cron starts a run within seconds; before this much has passed a due run is not late.
START_GRACE = timedelta(seconds=90)
# A job without a schedule counts as covered for this long after its last success.
MANUAL_WINDOW = timedelta(days=7)
HISTORY = 30
# Jobs per page of the overview's table: a fleet of 1,000 jobs is not one page of rows.
PAGE_SIZE = 50
# The table shows problems first: red, then amber, then green.
_RANK = {"red": 0, "amber": 1, "green": 2}
# Filters of the overview's table.
SHOWS = ("all", "problems", "uncovered")


@dataclass(frozen=True)
class RunView:
    """One cached run as the UI shows it."""

    run_id: str
    state: str
    trigger: str
    started: datetime | None
    finished: datetime | None
    exit_code: int | None
    files: int
    bytes: int
    checks: int
    errors: int
    diagnosis: dict[str, Any]

    @property
    def is_failure(self) -> bool:
        return self.state in RED_STATES


@dataclass(frozen=True)
class Health:
    """``indicator`` is "green", "amber" or "red"; ``covered`` means a recent success."""

    indicator: str
    reason: str
    covered: bool


@dataclass(frozen=True)
class JobRow:
    name: str
    server: str
    destination: str
    schedule: str | None
    schedule_text: str
    timezone: str
    health: Health
    last_run: RunView | None
    last_success: datetime | None
    next_run: datetime | None
    now: datetime
    # The latest due time no run started for: cron never ran it.
    missed: datetime | None = None
    # The latest scheduled verification as the last sync saw it (``signal``: green,
    # amber, red; ``cause``; ``finished``), None for a job without one.
    verify: dict[str, Any] | None = None

    @property
    def last_success_age(self) -> timedelta | None:
        return self.now - self.last_success if self.last_success else None


@dataclass(frozen=True)
class JobPage:
    """One page of the overview's job table."""

    rows: list[JobRow]
    number: int
    pages: int
    matching: int
    show: str


@dataclass(frozen=True)
class Fleet:
    """Every server, every job (problems first, then by name) and every kept check."""

    servers: list[ServerInfo]
    jobs: list[JobRow]
    checks: dict[str, dict[str, Any] | None]

    @property
    def not_covered(self) -> int:
        return sum(1 for j in self.jobs if not j.health.covered)

    @property
    def counts(self) -> dict[str, int]:
        """How many jobs are red, amber and green."""
        out = dict.fromkeys(_RANK, 0)
        for job in self.jobs:
            out[job.health.indicator] += 1
        return out

    def attention(self, name: str) -> bool:
        """Whether server ``name`` shows more than "all clear": banners, unreachable, unchecked."""
        check = self.checks.get(name)
        return check is None or not check.get("ok") or bool(check.get("banners"))

    def page(self, number: int = 1, show: str = "all", size: int = PAGE_SIZE) -> JobPage:
        """Page ``number`` (from 1; clamped to the pages there are) of the jobs ``show`` picks.

        ``show``: "all", "problems" (red or amber) or "uncovered" (no recent success).
        """
        if show == "problems":
            rows = [j for j in self.jobs if j.health.indicator != "green"]
        elif show == "uncovered":
            rows = [j for j in self.jobs if not j.health.covered]
        else:
            show, rows = "all", self.jobs
        pages = max(1, -(-len(rows) // size))
        number = min(max(number, 1), pages)
        start = (number - 1) * size
        return JobPage(rows[start : start + size], number, pages, len(rows), show)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


# The columns a RunView is made of, in order: selected as plain rows on hot paths.
_VIEW_COLUMNS = (Run.run_id, Run.state, Run.trigger, Run.started, Run.finished, Run.exit_code,
                 Run.files_transferred, Run.bytes_transferred, Run.checks, Run.errors,
                 Run.diagnosis)  # fmt: skip


def _view(row: Any) -> RunView:
    """A RunView from a Run or a row of ``_VIEW_COLUMNS``."""
    return RunView(
        row.run_id,
        row.state,
        row.trigger,
        _utc(row.started),
        _utc(row.finished),
        row.exit_code,
        row.files_transferred,
        row.bytes_transferred,
        row.checks,
        row.errors,
        dict(row.diagnosis or {}),
    )


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _due_since(
    expr: str, tz: str, deployed_at: datetime | None, now: datetime, clock: Clock | None
) -> list[datetime]:
    """The latest due times of ``expr`` after the job was deployed (a year back if unknown)."""
    since = deployed_at or now - timedelta(days=366)
    return [t for t in (clock or Clock(now)).due(expr, tz) if t > since]


def assess(
    expr: str | None,
    tz: str,
    deployed_at: datetime | None,
    runs: list[RunView],
    now: datetime,
    clock: Clock | None = None,
) -> Health:
    """Return the job's indicator from its runs (oldest first) and schedule, at ``now``.

    Red: the last run failed (or copied nothing), or the last success is older than the
    schedule allows, even when nothing failed. Amber: a warning or skipped run, or a job
    still waiting for its first run. Green otherwise.
    """
    last = runs[-1] if runs else None
    ok = [r.started for r in runs if r.state in SUCCESS_STATES and r.started is not None]
    last_ok = ok[-1] if ok else None
    if expr:
        due = _due_since(expr, tz, deployed_at, now, clock)
        slack = timedelta(minutes=1)  # cron may start a run a little before the minute
        started = last.started if last is not None and last.state == "running" else None
        if started is not None and due and started >= due[-1] - slack:
            due = due[:-1]  # the latest due run is the one in progress
        covered = last_ok is not None and (not due or last_ok >= due[-1] - slack)
        if last is not None and last.state in RED_STATES:
            return Health("red", _failure(last), covered)
        if due and not covered:
            seen = f"last success {_ago(now - last_ok)} ago" if last_ok else "no success yet"
            return Health("red", f"a run was due at {due[-1]:%Y-%m-%d %H:%M} UTC; {seen}", False)
        if last_ok is None:
            return Health("amber", "waiting for its first scheduled run", False)
    else:
        covered = last_ok is not None and now - last_ok <= MANUAL_WINDOW
        if last is not None and last.state in RED_STATES:
            return Health("red", _failure(last), covered)
        if last is None:
            return Health("amber", "manual only and never run", False)
        if not covered:
            seen = f"last success {_ago(now - last_ok)} ago" if last_ok else "no success yet"
            return Health("red", f"manual only; {seen}", False)
    assert last is not None
    if last.state in AMBER_STATES:
        return Health("amber", last.diagnosis.get("cause") or last.state, covered)
    if last.state == "running":
        return Health("green", "running; the previous run covers the schedule", covered)
    return Health("green", "backed up on schedule" if expr else "backed up", covered)


def missed_at(
    expr: str | None,
    tz: str,
    deployed_at: datetime | None,
    runs: list[RunView],
    now: datetime,
    clock: Clock | None = None,
) -> datetime | None:
    """Return the latest due time that no run started for (the run cron never made)."""
    due = _due_since(expr, tz, deployed_at, now, clock) if expr else []
    if not due:
        return None
    started = runs[-1].started if runs else None
    # Cron may start a run a little before its minute.
    return due[-1] if started is None or started < due[-1] - timedelta(minutes=1) else None


def _failure(run: RunView) -> str:
    cause = run.diagnosis.get("cause")
    return f"{run.state}: {cause}" if cause else run.state


@dataclass(frozen=True)
class _Plan:
    """One schedule's words, next run and latest due times, and the span they hold for."""

    text: str
    next_run: datetime | None
    due: tuple[datetime, ...]
    since: datetime
    until: datetime


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_FOREVER = datetime.max.replace(tzinfo=UTC)
# Plans outlive a page: a fleet's schedules change answers only when one of their runs
# comes due, so most page views compute no schedule at all.
_PLANS: dict[tuple[str, str], _Plan] = {}
_PLANS_MAX = 4096


def _plan(expr: str, tz: str, now: datetime) -> _Plan:
    try:
        next_run = schedule.next_runs(expr, tz, now, 1)[0]
        cut = now - START_GRACE
        # The latest two due times, whenever deployed: callers cut at theirs.
        due = schedule.expected_runs(expr, tz, _EPOCH, cut, 2)
        # Valid until the next run starts, or the next due time outlives its grace.
        until = min(next_run, schedule.next_runs(expr, tz, cut, 1)[0] + START_GRACE)
        return _Plan(schedule.describe(expr), next_run, tuple(due), now, until)
    except CtrlopsError:
        return _Plan(f"invalid schedule {expr!r}", None, (), now, _FOREVER)


class Clock:
    """Schedule math at one ``now``, shared by the jobs (and pages) with the same schedule."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._memo: dict[tuple[str, str], _Plan] = {}

    def _of(self, expr: str, tz: str) -> _Plan:
        key = (expr, tz)
        plan = self._memo.get(key)
        if plan is None:
            plan = _PLANS.get(key)
            if plan is None or not plan.since <= self.now < plan.until:
                plan = _plan(expr, tz, self.now)
                if len(_PLANS) >= _PLANS_MAX:
                    _PLANS.clear()
                _PLANS[key] = plan
            self._memo[key] = plan
        return plan

    def describe(self, expr: str, tz: str) -> tuple[str, datetime | None]:
        plan = self._of(expr, tz)
        return plan.text, plan.next_run

    def due(self, expr: str, tz: str) -> tuple[datetime, ...]:
        return self._of(expr, tz).due


class _JobCols(NamedTuple):
    """The columns of a job a row shows: no JSON, no ORM objects, for 1,000-job pages."""

    id: int
    name: str
    schedule: str | None
    timezone: str | None
    deployed_at: datetime | None
    server: str
    destination: str
    verify: dict[str, Any] | None


def _job_query() -> Any:
    return (
        select(Job.id, Job.name, Job.schedule, Job.timezone, Job.deployed_at,
               Server.name, Destination.name, Job.last_verify)
        .join(Server, Job.server_id == Server.id)
        .join(Destination, Job.destination_id == Destination.id)
        .order_by(Job.name)
    )  # fmt: skip


def _row(job: _JobCols, runs: list[RunView], now: datetime, clock: Clock | None = None) -> JobRow:
    tz = job.timezone or "UTC"
    clock = clock or Clock(now)
    deployed_at = _utc(job.deployed_at)
    ok = [r.started for r in runs if r.state in SUCCESS_STATES and r.started]
    next_run = None
    text = "manual only"
    if job.schedule:
        text, next_run = clock.describe(job.schedule, tz)
    return JobRow(
        job.name,
        job.server,
        job.destination,
        job.schedule,
        text,
        tz,
        assess(job.schedule, tz, deployed_at, runs, now, clock),
        runs[-1] if runs else None,
        ok[-1] if ok else None,
        next_run,
        now,
        missed_at(job.schedule, tz, deployed_at, runs, now, clock),
        job.verify,
    )


def _runs(s: Any, job_id: int, limit: int) -> list[RunView]:
    rows = s.scalars(
        select(Run).where(Run.job_id == job_id).order_by(Run.started.desc()).limit(limit)
    )
    return [_view(r) for r in reversed(list(rows))]


def _latest(s: Any, job_ids: list[int]) -> dict[int, list[RunView]]:
    """Each job's newest run and newest success (oldest first): all the overview needs.

    Correlated subqueries on the (job_id, started) and (job_id, state, started) indexes:
    a few index seeks per job, whatever the number of runs stored.
    """
    if not job_ids:
        return {}
    inner = aliased(Run)

    def newest(*states: str) -> Any:
        q = select(inner.id).where(inner.job_id == Job.id)
        if states:
            q = q.where(inner.state == states[0])
        return q.order_by(inner.started.desc()).limit(1).scalar_subquery()

    picks = [newest(), *(newest(state) for state in sorted(SUCCESS_STATES))]
    wanted: set[int] = set()
    for row in s.execute(select(*picks).where(Job.id.in_(job_ids))):
        wanted.update(i for i in row if i is not None)
    out: dict[int, list[RunView]] = {i: [] for i in job_ids}
    if wanted:
        for row in s.execute(select(Run.job_id, *_VIEW_COLUMNS).where(Run.id.in_(wanted))):
            out[row.job_id].append(_view(row))
    epoch = datetime.min.replace(tzinfo=UTC)
    for views in out.values():
        views.sort(key=lambda v: v.started or epoch)
    return out


def job_rows(server: str | None = None, *, now: datetime | None = None) -> list[JobRow]:
    """Return every job (or the jobs of ``server``) with its health at ``now``."""
    now = now or datetime.now(UTC)
    with session() as s:
        query = _job_query()
        if server is not None:
            query = query.where(Server.name == server)
        found = [_JobCols(*row) for row in s.execute(query)]
        latest = _latest(s, [j.id for j in found])
        clock = Clock(now)
        return [_row(job, latest[job.id], now, clock) for job in found]


def job_row(name: str, *, now: datetime | None = None) -> JobRow:
    """Return one job's row; raises NotFoundError."""
    now = now or datetime.now(UTC)
    with session() as s:
        row = s.execute(_job_query().where(Job.name == name)).first()
        if row is None:
            raise NotFoundError("job", name)
        job = _JobCols(*row)
        return _row(job, _latest(s, [job.id])[job.id], now)


def server_checks() -> dict[str, dict[str, Any] | None]:
    """Every server's last check as the store keeps it (None before its first)."""
    with session() as s:
        rows = s.execute(select(Server.name, Server.last_check, Server.checked_at))
        return {
            name: {**check, "checked_at": _utc(at)} if check is not None else None
            for name, check, at in rows
        }


def fleet(*, now: datetime | None = None) -> Fleet:
    """Return every server and every job with its health, problems first."""
    rows = sorted(job_rows(now=now), key=lambda j: (_RANK[j.health.indicator], j.name))
    return Fleet(list_servers(), rows, server_checks())


def history(name: str, limit: int = HISTORY) -> list[RunView]:
    """Return the job's last ``limit`` cached runs, oldest first; raises NotFoundError."""
    with session() as s:
        job_id = s.scalar(select(Job.id).where(Job.name == name))
        if job_id is None:
            raise NotFoundError("job", name)
        return _runs(s, job_id, limit)


def cached_run(name: str, run_id: str) -> RunView | None:
    """Return one cached run of job ``name``, or None."""
    return next((r for r in history(name, 10_000) if r.run_id == run_id), None)


# The web UI's own settings (the admin's password hash). They belong in a services/auth
# module; they sit here until that exists.
def load_setting(key: str) -> dict[str, Any] | None:
    """Return the plain value of setting ``key`` or None."""
    with session() as s:
        row = s.get(Setting, key)
        return dict(row.value) if row is not None else None


def save_setting(key: str, value: dict[str, Any], *, only_if_missing: bool = False) -> bool:
    """Store ``value`` under ``key``; with ``only_if_missing`` keep an existing one.

    Returns True when written.
    """
    with session() as s:
        row = s.get(Setting, key)
        if row is not None and only_if_missing:
            return False
        if row is None:
            s.add(Setting(key=key, value=value, secret_enc=None))
        else:
            row.value = value
        return True
