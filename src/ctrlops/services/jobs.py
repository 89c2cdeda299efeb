"""Backup jobs: add, edit, deploy, remove, run, watch, kill, and the truth about each run.

The server is the source of truth for what ran: every status here is read from the run
records the runner left on the server, then cached in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import secrets as pysecrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from ctrlops import schedule
from ctrlops.backup import deploy, records
from ctrlops.backup.records import RunRecord
from ctrlops.diagnose.report import explain_log
from ctrlops.errors import CtrlopsError, InputError, NotFoundError
from ctrlops.rclone.providers import DestinationSpec, rclone_config
from ctrlops.remote.base import Remote
from ctrlops.remote.exec import execute
from ctrlops.runner import crontab, layout
from ctrlops.runner.jobfile import MAX_RESTORE_TEST_FILES as MAX_RESTORE
from ctrlops.runner.jobfile import JobFiles
from ctrlops.server import facts as server_facts
from ctrlops.server.spec import check_name
from ctrlops.services import destinations, servers
from ctrlops.store import runs as run_cache
from ctrlops.store.db import session
from ctrlops.store.models import Destination, Job, Server, utcnow

RUNNER = f"$HOME/{layout.RUNNER}"
LOG_TAIL = 256 * 1024
MISSED_GRACE = timedelta(seconds=90)
MISSED_LOOKBACK = timedelta(days=8)
# In a job's options when the user gave --timezone: the zone is theirs, not the server's.
TIMEZONE_GIVEN = "timezone_given"


@dataclass(frozen=True)
class JobInfo:
    name: str
    uid: str
    server: str
    destination: str
    sources: list[str]
    excludes: list[str]
    prefix: str
    schedule: str | None
    timezone: str | None
    mode: str
    bwlimit: str | None
    options: dict[str, Any]
    deployed_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "job": self.name,
            "uid": self.uid,
            "server": self.server,
            "destination": self.destination,
            "sources": self.sources,
            "excludes": self.excludes,
            "prefix": self.prefix,
            "schedule": self.schedule,
            "schedule_text": schedule.describe(self.schedule) if self.schedule else "manual only",
            "timezone": self.timezone,
            "mode": self.mode,
            "bwlimit": self.bwlimit,
            "deployed_at": self.deployed_at.isoformat() if self.deployed_at else None,
        }


def _info(row: Job) -> JobInfo:
    return JobInfo(
        row.name,
        row.uid,
        row.server.name,
        row.destination.name,
        list(row.sources),
        list(row.excludes),
        row.prefix,
        row.schedule,
        row.timezone,
        row.mode,
        row.bwlimit,
        dict(row.options or {}),
        row.deployed_at,
    )


def get(name: str) -> JobInfo:
    """Return the job ``name``; raises NotFoundError."""
    with session() as s:
        row = s.scalar(select(Job).where(Job.name == name))
        if row is None:
            raise NotFoundError("job", name)
        return _info(row)


def list_all() -> list[JobInfo]:
    with session() as s:
        return [_info(r) for r in s.scalars(select(Job).order_by(Job.name))]


def _new_uid(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "job"
    return f"{slug}-{pysecrets.token_hex(3)}"


def _files(info: JobInfo, dest_bucket: str, dest_prefix: str) -> JobFiles:
    prefix = "/".join(p.strip("/") for p in (dest_prefix, info.prefix) if p.strip("/"))
    return JobFiles(
        uid=info.uid,
        name=info.name,
        mode=info.mode,  # type: ignore[arg-type]  # validated in spec()
        bucket=dest_bucket,
        prefix=prefix,
        sources=tuple(info.sources),
        excludes=tuple(info.excludes),
        bwlimit=info.bwlimit or "",
        transfers=int(info.options.get("transfers", 8)),
        checkers=int(info.options.get("checkers", 16)),
        stats_interval=str(info.options.get("stats_interval", "10s")),
        fast_list=bool(info.options.get("fast_list", True)),
        ping_url=str(info.options.get("ping_url") or ""),
        keep_versions_days=int(info.options.get("keep_days") or 0),
        verify_download=bool(info.options.get("verify_download")),
        restore_test_files=int(info.options.get("restore_test_files") or 0),
    )


def _verify_options(options: dict[str, Any]) -> dict[str, Any]:
    """Return ``options`` with the scheduled verification's settings validated (a copy).

    ``verify_schedule`` is normalised (absent when empty); ``restore_test_files`` needs it,
    because only a scheduled verification runs the restore test. Raises InputError naming
    the CLI flag.
    """
    out = dict(options)
    expr = out.pop("verify_schedule", None)
    if expr:
        try:
            out["verify_schedule"] = schedule.validate(str(expr))
        except InputError as e:
            raise InputError("--verify-schedule", e.reason, e.fix) from None
    files = out.get("restore_test_files") or 0
    if isinstance(files, bool) or not isinstance(files, int) or not 0 <= files <= MAX_RESTORE:
        raise InputError(
            "--restore-test-files", f"{files!r} is not a whole number from 0 (off) to {MAX_RESTORE}"
        )
    if files and not out.get("verify_schedule"):
        raise InputError(
            "--restore-test-files",
            "the restore test runs with the scheduled verification, which is not set",
            "add --verify-schedule CRON (e.g. '0 3 * * 0')",
        )
    return out


def pinned_timezone(info: JobInfo) -> str | None:
    """Return the zone the user gave the job's schedule in (``--timezone``), else None.

    ``JobInfo.timezone`` is the zone recorded at the last deploy: the server's, unless the
    user gave one (then the two are the same zone, or the deploy was refused). Only a given
    zone is held against the server on a redeploy; a recorded one follows the server.
    """
    return info.timezone if info.options.get(TIMEZONE_GIVEN) else None


def _pinned(options: dict[str, Any], timezone: str | None) -> dict[str, Any]:
    """Return ``options`` (a copy) saying whether the user gave ``timezone``."""
    out = {k: v for k, v in options.items() if k != TIMEZONE_GIVEN}
    if timezone:
        out[TIMEZONE_GIVEN] = True
    return out


def spec(
    name: str,
    *,
    server: str,
    sources: list[str],
    dest: str,
    prefix: str = "",
    schedule_expr: str | None = None,
    timezone: str | None = None,
    excludes: list[str] | None = None,
    mode: str = "copy",
    bwlimit: str | None = None,
    options: dict[str, Any] | None = None,
    uid: str | None = None,
) -> JobInfo:
    """Return a validated job (nothing stored, nothing contacted).

    Raises InputError naming the first bad field, NotFoundError for an unknown server or
    destination.
    """
    try:
        check_name(name)
    except ValueError as e:
        raise InputError("name", str(e)) from None
    servers.get(server)
    d = destinations.show(dest)
    if not sources:
        raise InputError("--source", "give at least one path to back up")
    if mode not in ("copy", "mirror"):
        raise InputError("--mode", f"{mode!r} is neither 'copy' nor 'mirror'")
    expr = schedule.validate(schedule_expr) if schedule_expr else None
    if timezone:
        schedule.zone(timezone)
    options = _pinned(_verify_options(options or {}), timezone)
    info = JobInfo(
        name,
        uid or _new_uid(name),
        server,
        dest,
        list(sources),
        list(excludes or []),
        prefix,
        expr,
        timezone,
        mode,
        bwlimit,
        dict(options or {}),
        None,
    )
    try:
        files = _files(info, d["bucket"], d["prefix"] or "")
    except InputError as e:
        field = {
            "source": "--source",
            "exclude": "--exclude",
            "prefix": "--prefix",
            "bwlimit": "--bwlimit",
        }.get(e.field, e.field)
        raise InputError(field, e.reason, e.fix) from None
    return JobInfo(
        name,
        info.uid,
        server,
        dest,
        list(files.sources),
        list(files.excludes),
        prefix.strip("/"),
        expr,
        timezone,
        mode,
        bwlimit,
        info.options,
        None,
    )


def _job_entries(uid: str, expr: str | None, options: dict[str, Any] | None) -> list[crontab.Entry]:
    """A job's crontab lines: its backup schedule, and its verification's if it has one."""
    out = [crontab.Entry(uid, expr)] if expr else []
    verify = (options or {}).get("verify_schedule")
    if verify:
        out.append(crontab.Entry(uid, str(verify), crontab.VERIFY))
    return out


def _server_entries(server: str, replace: JobInfo | None = None) -> list[crontab.Entry]:
    """The crontab entries the server should have: every enabled scheduled job of it in the
    store (including one whose first deploy is under way), with ``replace`` as edited.
    A job can have two: its backups and its scheduled verification."""
    entries: dict[str, list[crontab.Entry]] = {}
    with session() as s:
        for row in s.scalars(select(Job).join(Server).where(Server.name == server)):
            if row.enabled:
                entries[row.uid] = _job_entries(row.uid, row.schedule, row.options)
    if replace is not None:
        entries[replace.uid] = _job_entries(replace.uid, replace.schedule, replace.options)
    return [e for listed in entries.values() for e in listed]


async def crontab_drift(remote: Remote, server: str) -> str:
    """Return what differs between the server's ctrlops crontab block and the jobs the
    store says it runs ("" when they agree): a block edited or removed by hand."""
    expected = set(_server_entries(server))
    state = await deploy.read_crontab(remote)
    if not state.installed:
        return ""  # the cron banner already says it
    block = crontab.parse_block(state.text)
    found = set(block.entries) if block else set()
    problems = list(block.problems) if block else []
    if expected and block is None:
        problems.append("the ctrlops block is missing from the crontab")

    def named(entry: crontab.Entry) -> str:
        return entry.uid if entry.action == crontab.START else f"{entry.uid} ({entry.action})"

    missing = sorted(named(e) for e in expected - found)
    extra = sorted(named(e) for e in found - expected)
    if missing:
        problems.append("jobs without their schedule line: " + ", ".join(missing))
    if extra:
        problems.append("lines for no current job (or another schedule): " + ", ".join(extra))
    return "; ".join(problems)


def _check_zone(info: JobInfo, server_tz: str) -> None:
    """Refuse a schedule pinned to a zone the server's cron does not run in (InputError).

    Only a zone the user gave (``--timezone``) is held against the server: a job without
    one follows the server's zone, so a server whose zone changed is redeployed as it is.
    """
    wanted = pinned_timezone(info)
    if wanted and info.schedule and schedule.zone(wanted).key != server_tz:
        raise InputError(
            "--timezone",
            f"{info.server} runs cron in {server_tz}, not {wanted}",
            f"write the schedule in {server_tz} (or leave --timezone out); cron on the server "
            "fires in the server's own timezone",
        )


@dataclass(frozen=True)
class _Prepared:
    """What a deploy writes for one job, built before anything is written."""

    files: JobFiles
    rclone_conf: str
    secret: str = dataclasses.field(repr=False)


def _prepare(info: JobInfo, loaded: dict[str, tuple[DestinationSpec, str]]) -> _Prepared:
    """Build the job's files; ``loaded`` caches destinations (and secrets) by name."""
    if info.destination not in loaded:
        loaded[info.destination] = destinations.load(info.destination)
    d_spec, secret = loaded[info.destination]
    files = _files(info, d_spec.bucket, d_spec.prefix)
    return _Prepared(files, rclone_config(d_spec, secret, "dest"), secret)


def _cron_warnings(info: JobInfo, scheduled: bool, facts: dict[str, Any]) -> list[str]:
    """Why a scheduled job's lines, though written, will not fire."""
    if not _job_entries(info.uid, info.schedule, info.options):
        return []
    if not scheduled:
        return [
            "cron is not installed on the server: only manual runs will happen "
            f"(`ctrlops server fix {info.server} install-cron`)"
        ]
    if not facts.get("cron_running"):
        return [
            "the cron service is not running on the server: scheduled runs will "
            f"not happen (`ctrlops server fix {info.server} start-cron`)"
        ]
    return []


async def _deploy(remote: Remote, info: JobInfo) -> dict[str, Any]:
    """Put the job on the server. Returns warnings; raises InputError for a timezone clash."""
    facts = await server_facts.gather(remote)
    server_tz = facts.get("timezone") or "UTC"
    _check_zone(info, server_tz)
    job = _prepare(info, {})
    await deploy.install_runner(remote, facts.get("runner_version"))
    await deploy.write_job(remote, job.files, job.rclone_conf, secret=job.secret)
    scheduled = await deploy.set_schedules(remote, lambda: _server_entries(info.server, info))
    return {"timezone": server_tz, "warnings": _cron_warnings(info, scheduled, facts)}


async def add(info: JobInfo) -> dict[str, Any]:
    """Store a validated job, deploy it to its server, and keep it only if that worked.

    The row goes in first (not yet deployed), so a deploy of another job to the same
    server at the same moment keeps this job's crontab line. On failure the row, the
    job's files and its crontab line are removed again: nothing half-done is left.
    """
    with session() as s:
        server_id = s.scalar(select(Server.id).where(Server.name == info.server))
        dest_id = s.scalar(select(Destination.id).where(Destination.name == info.destination))
        if s.scalar(select(Job.id).where(Job.name == info.name)) is not None:
            raise InputError("name", f"a job named {info.name!r} already exists")
        assert server_id is not None and dest_id is not None
        s.add(
            Job(
                name=info.name,
                uid=info.uid,
                server_id=server_id,
                destination_id=dest_id,
                sources=info.sources,
                excludes=info.excludes,
                prefix=info.prefix,
                schedule=info.schedule,
                timezone=info.timezone,
                mode=info.mode,
                bwlimit=info.bwlimit,
                options=info.options,
            )
        )
    try:
        async with servers.open_remote(info.server) as remote:
            try:
                result = await _deploy(remote, info)
            except BaseException:
                _delete(info.name)
                with contextlib.suppress(CtrlopsError):
                    await deploy.set_schedules(remote, lambda: _server_entries(info.server))
                    await deploy.remove_job_files(remote, info.uid)
                raise
    except BaseException:
        _delete(info.name)  # the server could not even be reached
        raise
    with session() as s:
        row = s.scalar(select(Job).where(Job.name == info.name))
        assert row is not None
        row.timezone, row.deployed_at = result["timezone"], utcnow()
    return {**get(info.name).as_dict(), "warnings": result["warnings"]}


def _delete(name: str) -> None:
    with session() as s:
        row = s.scalar(select(Job).where(Job.name == name))
        if row is not None:
            s.delete(row)


async def redeploy(name: str, changes: JobInfo | None = None) -> dict[str, Any]:
    """Deploy the stored job again (repairs drift), optionally with edited settings.

    A job whose zone the user never gave follows the server's current zone (it is recorded
    anew); one given with ``--timezone`` is held to it (InputError when the server's cron
    now runs in another). ``changes`` with ``timezone=None`` drops that pin.
    """
    info = changes or get(name)
    async with servers.open_remote(info.server) as remote:
        result = await _deploy(remote, info)
    with session() as s:
        row = s.scalar(select(Job).where(Job.name == name))
        assert row is not None
        row.sources, row.excludes, row.prefix = info.sources, info.excludes, info.prefix
        row.schedule, row.mode, row.bwlimit = info.schedule, info.mode, info.bwlimit
        row.options = _pinned(info.options, pinned_timezone(info))
        row.timezone, row.deployed_at = result["timezone"], utcnow()
    return {**get(name).as_dict(), "warnings": result["warnings"]}


async def redeploy_server(server: str, *, follow_server_zone: bool = False) -> list[str]:
    """Deploy every job of ``server`` again over one session; returns the jobs' names.

    The server's facts are gathered once, the runner is installed once, each job's files
    are written (each file atomically), then the crontab block is set once for all of
    them, under the same lock and checksum as any deploy. Every job is checked first: a
    schedule pinned to another zone than the server's (InputError naming --timezone) or
    an unusable destination stops it before anything is written. ``follow_server_zone``
    drops the pins, so every job follows the server's zone from now on.
    """
    infos = [j for j in list_all() if j.server == server]
    if follow_server_zone:
        infos = [dataclasses.replace(i, timezone=None) for i in infos]
    async with servers.open_remote(server) as remote:
        facts = await server_facts.gather(remote)
        server_tz = facts.get("timezone") or "UTC"
        loaded: dict[str, tuple[DestinationSpec, str]] = {}
        prepared = []
        for info in infos:
            _check_zone(info, server_tz)
            prepared.append(_prepare(info, loaded))
        if prepared:
            await deploy.install_runner(remote, facts.get("runner_version"))
        for job in prepared:
            await deploy.write_job(remote, job.files, job.rclone_conf, secret=job.secret)
        await deploy.set_schedules(remote, lambda: _server_entries(server))
    by_uid = {i.uid: i for i in infos}
    with session() as s:
        for row in s.scalars(select(Job).where(Job.uid.in_(by_uid))):
            row.timezone, row.deployed_at = server_tz, utcnow()
            row.options = _pinned(by_uid[row.uid].options, pinned_timezone(by_uid[row.uid]))
    return [i.name for i in infos]


async def remove(name: str) -> None:
    """Remove the job's crontab line and files from the server (the bucket keeps its data)."""
    info = get(name)
    # Disabled first: a concurrent deploy to the same server then leaves its line out too.
    with session() as s:
        row = s.scalar(select(Job).where(Job.name == name))
        if row is not None:
            row.enabled = False
    async with servers.open_remote(info.server) as remote:
        await deploy.set_schedules(remote, lambda: _server_entries(info.server))
        await deploy.remove_job_files(remote, info.uid)
    _delete(name)


async def _runner(remote: Remote, *args: str, timeout: float = 60) -> str:
    # cron's PATH, so that Run Now finds exactly the rclone a scheduled run finds.
    command = f'PATH={layout.CRON_PATH}; export PATH; exec "{RUNNER}" "$@"'
    result = await execute(remote, ["sh", "-c", command, "ctrlops-run", *args], timeout=timeout)
    return result.stdout


async def _log_tail(remote: Remote, uid: str, run_id: str, size: int = LOG_TAIL) -> str:
    path = f"{layout.job_dir(uid)}/runs/{run_id}/rclone.log"
    result = await execute(
        remote,
        ["sh", "-c", 'tail -c "$1" "$HOME/$2" 2>/dev/null || true', "tail", str(size), path],
        timeout=60,
    )
    return result.stdout


async def _interpret(
    remote: Remote, uid: str, record: RunRecord, provider: str, stall_window: float = 600
) -> dict[str, Any]:
    """Return the run as a user sees it: state, counts and diagnosis, from its log."""
    text = ""
    if record.state in NEEDS_LOG:
        text = await _log_tail(remote, uid, record.run_id)
    return interpret(record, text, provider, stall_window)


# Run states whose meaning (counts, diagnosis, stalled) only the log can tell.
NEEDS_LOG = frozenset(
    {records.SUCCESS, records.FAILED, records.KILLED, records.RUNNING, records.INTERRUPTED}
)


def interpret(
    record: RunRecord, text: str, provider: str, stall_window: float = 600
) -> dict[str, Any]:
    """Return ``record`` as a user sees it, given the tail of its log (pure)."""
    diagnosis = None
    if record.state in NEEDS_LOG:
        code = record.exit_code if record.state != records.RUNNING else None
        if record.state == records.KILLED:
            code = 143
        diagnosis = explain_log(text, exit_code=code, provider=provider, stall_window=stall_window)
    state, diag = records.user_state(record, diagnosis)
    st = diagnosis.stats if diagnosis else None
    return {
        **records.record_dict(record),
        "state": state,
        "files_transferred": st.transfers if st else 0,
        "bytes_transferred": st.bytes if st else 0,
        "checks": st.checks if st else 0,
        "errors": st.errors if st else 0,
        "elapsed": st.elapsed if st else None,
        "diagnosis": diag or None,
    }


def _cache(job_name: str, runs: list[dict[str, Any]]) -> None:
    with session() as s:
        job_id = s.scalar(select(Job.id).where(Job.name == job_name))
    if job_id is not None:
        run_cache.upsert(job_id, runs)


async def _records(remote: Remote, uid: str, last: int = 0) -> list[RunRecord]:
    return records.parse_status(await _runner(remote, "status", uid, str(last)))


async def status(name: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Return the job's last run (read from the server), next runs and missed runs."""
    info = get(name)
    provider = destinations.show(info.destination)["provider"]
    now = now or datetime.now(UTC)
    async with servers.open_remote(info.server) as remote:
        recs = await _records(remote, info.uid)
        window = float(info.options.get("stall_seconds", 600))
        last = await _interpret(remote, info.uid, recs[-1], provider, window) if recs else None
        missed: list[datetime] = []
        reasons: list[str] = []
        if info.schedule and info.deployed_at:
            since = max(info.deployed_at.replace(tzinfo=UTC), now - MISSED_LOOKBACK)
            missed = records.find_missed(
                info.schedule,
                info.timezone or "UTC",
                recs,
                since=since,
                now=now,
                grace=MISSED_GRACE,
            )
            if missed:
                reasons = await _missed_reasons(remote, info, missed)
        last_verify = None
        if info.options.get("verify_schedule"):
            # Imported here: the verification service imports this module.
            from ctrlops.services import verification

            last_verify = await verification.scheduled(remote, info, provider, now=now)
    if last is not None:
        _cache(name, [last])
    tz = info.timezone or "UTC"
    return {
        "job": name,
        "server": info.server,
        "schedule": info.schedule,
        "schedule_text": schedule.describe(info.schedule) if info.schedule else "manual only",
        "timezone": tz,
        "next_run": (
            schedule.next_runs(info.schedule, tz, now, 1)[0].isoformat() if info.schedule else None
        ),
        "missed": [m.isoformat() for m in missed],
        "missed_reasons": reasons,
        "last_run": last,
        "last_verify": last_verify,
    }


async def _missed_reasons(remote: Remote, info: JobInfo, missed: list[datetime]) -> list[str]:
    """Name what the server shows that explains runs that never started."""
    facts = await server_facts.gather(remote)
    out: list[str] = []
    if not facts.get("crontab") or not facts.get("cron_daemon"):
        out.append("cron is not installed on the server")
    elif not facts.get("cron_running"):
        out.append("the cron service is not running on the server")
    state = await deploy.read_crontab(remote)
    block = crontab.parse_block(state.text)
    if block is None or info.uid not in {e.uid for e in block.entries if e.action == crontab.START}:
        out.append("the job's crontab line is missing (fix: `ctrlops job deploy NAME`)")
    elif block.drifted:
        out.append("the ctrlops crontab block was edited by hand: " + "; ".join(block.problems))
    uptime = facts.get("uptime")
    if isinstance(uptime, float):
        booted = datetime.now(UTC) - timedelta(seconds=uptime)
        if any(m < booted for m in missed):
            out.append(f"the server was down or rebooting (up since {booted:%Y-%m-%d %H:%M} UTC)")
    if not out:
        out.append(
            "cron started nothing and left no record: check the system log for "
            "cron errors (`journalctl -u cron` or /var/log/syslog)"
        )
    return out


async def run_now(name: str, *, wait: bool = False, timeout: float = 6 * 3600) -> dict[str, Any]:
    """Start a run on the server, detached (it survives a dropped connection).

    Returns the run (finished when ``wait``). Raises CtrlopsError when it cannot start.
    """
    info = get(name)
    provider = destinations.show(info.destination)["provider"]
    async with servers.open_remote(info.server) as remote:
        run_id = (await _runner(remote, "detach", info.uid, "manual")).strip().splitlines()[-1]
        deadline = asyncio.get_running_loop().time() + timeout
        pause = 0.1  # short runs are noticed at once, long ones polled once a second
        lost = 0  # polls that found the run's process gone while its record says running
        while True:
            recs = [r for r in await _records(remote, info.uid, 20) if r.run_id == run_id]
            record = recs[0] if recs else None
            if record is None:
                raise CtrlopsError(
                    f"the run {run_id} left no record on {info.server}",
                    "check free disk space in ~/.ctrlops on the server",
                )
            if record.state == records.RUNNING and record.alive is False and wait:
                # A run ending between the record's read and the process check looks
                # lost for an instant: only a run still lost a moment later is.
                lost += 1
                if lost < 3:
                    await asyncio.sleep(0.5)
                    continue
            if not wait or record.state != records.RUNNING or record.alive is False:
                break
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 1.0)
        run = await _interpret(remote, info.uid, record, provider)
    _cache(name, [run])
    return run


async def prune(name: str, *, dry_run: bool = True) -> dict[str, Any]:
    """List (and unless ``dry_run`` delete) the job's version folders past its retention.

    Mirror jobs only; the runner also prunes by itself after each successful run.
    """
    info = get(name)
    days = int(info.options.get("keep_days") or 0)
    if info.mode != "mirror" or days <= 0:
        raise InputError(
            "--keep-days",
            f"{name} keeps every version (mirror mode with --keep-days N enables retention)",
        )
    async with servers.open_remote(info.server) as remote:
        out = await _runner(remote, "prune", info.uid, "dry" if dry_run else "now", timeout=600)
    folders = [line for line in out.splitlines() if line]
    return {"job": name, "keep_days": days, "dry_run": dry_run, "versions": folders}


async def kill(name: str) -> dict[str, Any]:
    """Kill the running run's whole process group; returns the run as recorded."""
    info = get(name)
    provider = destinations.show(info.destination)["provider"]
    async with servers.open_remote(info.server) as remote:
        before = [r for r in await _records(remote, info.uid, 5) if r.state == records.RUNNING]
        if not before:
            raise CtrlopsError(f"{name} has no run in progress", "", category="input")
        await _runner(remote, "kill", info.uid, timeout=60)
        recs = {r.run_id: r for r in await _records(remote, info.uid, 5)}
        run = await _interpret(remote, info.uid, recs[before[-1].run_id], provider)
    _cache(name, [run])
    return run


async def log(name: str, run_id: str | None = None, *, size: int = LOG_TAIL) -> dict[str, Any]:
    """Return the tail of a run's rclone log (the last run by default) and its run id."""
    info = get(name)
    async with servers.open_remote(info.server) as remote:
        if run_id is None:
            recs = await _records(remote, info.uid, 1)
            if not recs:
                raise CtrlopsError(f"{name} has not run yet", f"start it: `ctrlops job run {name}`")
            run_id = recs[-1].run_id
        elif not re.fullmatch(r"[0-9TZ]+-[0-9]+", run_id):
            raise InputError("--run", f"{run_id!r} is not a run id")
        text = await _log_tail(remote, info.uid, run_id, size)
    return {"job": name, "run": run_id, "log": text}


async def explain(name: str, run_id: str | None = None, *, ask_ai: bool = False) -> dict[str, Any]:
    """Return the diagnosis of a run (the last one by default) with its log tail.

    With ``ask_ai``, also the configured model's answer (``"ai"``); the offline diagnosis
    stands whatever the model does.
    """
    info = get(name)
    provider = destinations.show(info.destination)["provider"]
    async with servers.open_remote(info.server) as remote:
        recs = await _records(remote, info.uid)
        if run_id is not None:
            recs = [r for r in recs if r.run_id == run_id]
        if not recs:
            raise (
                InputError("--run", f"no run {run_id!r} of {name}")
                if run_id
                else CtrlopsError(f"{name} has not run yet", f"start it: `ctrlops job run {name}`")
            )
        run = await _interpret(remote, info.uid, recs[-1], provider)
        text = await _log_tail(remote, info.uid, recs[-1].run_id)
        facts = server_facts.parse("") if not ask_ai else await server_facts.gather(remote)
    result: dict[str, Any] = {"job": name, "run": run, "log_tail": text}
    if ask_ai:
        from ctrlops.services import ai

        context = {
            "provider": provider,
            "mode": info.mode,
            "schedule": info.schedule,
            "server_os": facts.get("os"),
            "state": run["state"],
        }
        offline = run["diagnosis"] or {"category": "ok", "cause": "no failure in the log"}
        result["ai"] = (await ai.explain(text, context, offline))["ai"]
    return result
