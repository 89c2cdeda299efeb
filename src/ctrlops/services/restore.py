"""Restore a job's files from its destination, and verify a backup against its source.

rclone runs on a server (the job's own, or any registered one for a restore), talking to
the bucket directly: no data passes through the control plane. It reads its remote from
a temporary 0600 ``rclone.conf`` under ``~/.ctrlops/tmp/<random>/``, removed afterwards
whatever happens; the secret is never on a command line. Which copy of each file a
point-in-time restore takes is decided by :func:`ctrlops.backup.restore.plan`.
"""

from __future__ import annotations

import contextlib
import posixpath
import secrets as pysecrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ctrlops import schedule
from ctrlops.backup import records as run_records
from ctrlops.backup import restore as rp
from ctrlops.backup.records import RunRecord
from ctrlops.diagnose.report import explain_log
from ctrlops.errors import ConnectionFailed, CtrlopsError, InputError, RemoteCommandError
from ctrlops.rclone.output import parse_log
from ctrlops.rclone.providers import DestinationSpec, rclone_config
from ctrlops.remote.base import Remote, Result
from ctrlops.remote.exec import execute, mask, write_file
from ctrlops.runner import layout
from ctrlops.runner.jobfile import JobFiles, render_excludes
from ctrlops.services import destinations, jobs, servers
from ctrlops.storage.connection_test import classify

LIST_TIMEOUT = 1800.0
COPY_TIMEOUT = 24 * 3600.0  # attached to the SSH session: a huge restore may take long

EXACTNESS_NOTE = (
    "deleted and overwritten files are restored exactly from the versions the later runs "
    "kept; files created after that time are recognised by upload and modification time "
    "(the backup does not record creations): a file only touched after it is listed under "
    "'excluded' and can be restored with --path from the current state"
)

# Creates the private work directory $1 under ~/.ctrlops/tmp, prints $HOME, then the
# rclone the runner would use (nothing when there is none).
_PREPARE = (
    'set -u; umask 077; mkdir -p -- "$HOME/' + layout.TMP + '/$1" || exit 1; '
    'printf "%s\\n" "$HOME"; ' + layout.FIND_RCLONE + " || true"
)
# Prints each stdin line that names an existing file (or symlink) at the target.
_EXISTING = 'while IFS= read -r p; do if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi; done'
# Prints d, f or m (missing) for each argument.
_KINDS = (
    'for p; do if [ -d "$p" ]; then echo d; elif [ -e "$p" ]; then echo f; else echo m; fi; done'
)


@dataclass(frozen=True)
class _Work:
    """A private directory on a server holding the temporary rclone config."""

    remote: Remote
    rclone: str
    dir: str
    config: str
    secret: str
    home: str  # the login user's $HOME on that server

    async def put(self, name: str, data: bytes) -> str:
        """Write ``data`` as a 0600 file in the work directory; return its path."""
        path = f"{self.dir}/{name}"
        await write_file(self.remote, path, data, mode=0o600)
        return path

    async def run(
        self, argv: Sequence[str], *, timeout: float, stdin: bytes | None = None
    ) -> Result:
        """Run ``argv`` (not checked); a timeout raises RemoteCommandError."""
        return await execute(
            self.remote, argv, stdin=stdin, timeout=timeout, check=False, secrets=[self.secret]
        )


@contextlib.asynccontextmanager
async def _workspace(remote: Remote, spec: DestinationSpec, secret: str) -> AsyncIterator[_Work]:
    """Yield a work directory with ``rclone.conf`` for ``spec``; it is removed on exit.

    Raises CtrlopsError (``binary_missing``) when the server has no rclone.
    """
    conf = rclone_config(spec, secret, "dest")
    token = pysecrets.token_hex(8)
    found = await execute(remote, ["sh", "-c", _PREPARE, "ctrlops-prepare", token], timeout=60)
    home, _, rclone = found.stdout.partition("\n")
    work_dir = f"{home.strip()}/{layout.TMP}/{token}"
    try:
        if not rclone.strip():
            raise CtrlopsError(
                f"rclone is not installed on {remote.name} where ctrlops looks "
                "(~/.ctrlops/bin or cron's PATH)",
                f"install it with `ctrlops server fix {remote.name} install-rclone`",
                category="binary_missing",
            )
        config = f"{work_dir}/rclone.conf"
        await write_file(remote, config, conf.encode(), mode=0o600)
        yield _Work(remote, rclone.strip(), work_dir, config, secret, home.strip())
    finally:
        # Best effort, and never hiding the operation's own error. The name is ours (hex),
        # so rm -rf cannot reach anything else.
        with contextlib.suppress(CtrlopsError, OSError):
            await execute(remote, ["rm", "-rf", "--", work_dir], timeout=60, check=False)


def _failed(what: str, server: str, dest: str, result: Result, secret: str) -> CtrlopsError:
    category, line = classify("read", result.stderr)
    line = mask(line, [secret]) or f"rclone exited {result.exit_status}"
    fix = (
        f"run Test Connection: `ctrlops dest test {dest} --server {server}`"
        if category != "other"
        else f"see the rclone error above; check free space and permissions on {server}"
    )
    return CtrlopsError(f"{what} failed on {server} ({category}): {line}", fix, category=category)


async def _list(w: _Work, path: str, *, metadata: bool, dest: str) -> list[rp.Obj]:
    result = await w.run(rp.list_objects(w.rclone, w.config, path, metadata=metadata),
                         timeout=LIST_TIMEOUT)  # fmt: skip
    if not result.ok:
        raise _failed(f"listing {path}", w.remote.name, dest, result, w.secret)
    try:
        return rp.parse_listing(result.stdout)
    except (ValueError, KeyError, TypeError):
        raise CtrlopsError(
            f"rclone printed an unreadable listing of {path}", "upgrade rclone on the server"
        ) from None


async def _job_records(info: jobs.JobInfo, notes: list[str]) -> dict[str, RunRecord] | None:
    """The job's run records from its server, or None (noted) when it cannot be reached:
    a restore must still work when the original server is gone."""
    try:
        async with servers.open_remote(info.server) as remote:
            return {r.run_id: r for r in await jobs._records(remote, info.uid)}
    except (ConnectionFailed, RemoteCommandError) as e:
        notes.append(f"run records on {info.server} could not be read ({e.cause})")
        return None


def _point(
    info: jobs.JobInfo, run_id: str | None, at: str | datetime | None
) -> tuple[str | None, datetime | None]:
    """Validate ``--run``/``--at`` for the job; raises InputError."""
    if run_id is not None and at is not None:
        raise InputError("--at", "give --run or --at, not both")
    when: datetime | None = None
    if isinstance(at, str):
        when = rp.parse_at(at)
    elif isinstance(at, datetime):
        if at.tzinfo is None:
            raise InputError("--at", "the time has no time zone")
        when = at.astimezone(UTC)
    if run_id is not None:
        rp.validate_run_id(run_id)
    if (run_id or when) and info.mode != "mirror":
        raise InputError(
            "--run" if run_id else "--at",
            f"job {info.name} is in copy mode, which keeps no earlier versions",
            "leave it out to restore the current state (mirror mode keeps versions)",
        )
    return run_id, when


async def restore(
    job: str,
    *,
    to: str,
    run_id: str | None = None,
    at: str | datetime | None = None,
    paths: Sequence[str] = (),
    server: str | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Restore ``job``'s files into directory ``to`` on ``server`` (the job's by default).

    A file backed up from ``/a/b`` lands at ``<to>/a/b``. The current state by default;
    ``at`` (ISO time) or ``run_id`` a mirror-mode job's tree at that point (see
    :mod:`ctrlops.backup.restore`). Existing files are kept unless ``overwrite``.

    Returns ``{"job", "server", "to", "where", "point", "restored": {"files", "bytes"},
    "transferred", "skipped", "excluded", "unlistable", "notes"}``. Raises InputError for
    bad input before anything runs, NotFoundError for an unknown job or server,
    CtrlopsError when the restore fails.
    """
    info = jobs.get(job)
    target = rp.validate_target(to)
    roots = rp.validate_paths(paths, info.sources)
    run_id, when = _point(info, run_id, at)
    target_server = server or info.server
    servers.get(target_server)
    spec, secret = destinations.load(info.destination)
    files = jobs._files(info, spec.bucket, spec.prefix)

    notes: list[str] = []
    records = await _job_records(info, notes) if run_id else None
    async with servers.open_remote(target_server) as remote, _workspace(remote, spec, secret) as w:
        plan, cut = await _tree(w, info, files, roots, run_id, when, records, notes)
        if not plan.objects and not plan.excluded and not plan.unlistable:
            raise CtrlopsError(
                f"the destination holds no backed-up files of {job} under " + ", ".join(roots),
                f"check that the job has run (`ctrlops job status {job}`)",
            )
        base = rp.remote_root(files.bucket, files.prefix)
        result = await _copy(w, plan, base, target, overwrite=overwrite, dest=info.destination)
    where = [rp.target_path(target, r.lstrip("/")) for r in roots]
    return {
        "job": job,
        "server": target_server,
        "to": target,
        "where": where,
        "point": {
            "kind": "run" if run_id else "at" if when else "current",
            "at": cut.at.isoformat() if cut else None,
            "run": run_id,
            "versions_used": list(cut.after) if cut else [],
        },
        **result,
        "excluded": _some(plan.excluded),
        "unlistable": _some(plan.unlistable),
        "notes": notes,
    }


async def _tree(
    w: _Work,
    info: jobs.JobInfo,
    files: JobFiles,
    roots: Sequence[str],
    run_id: str | None,
    when: datetime | None,
    records: dict[str, RunRecord] | None,
    notes: list[str],
    *,
    under: str = "/",
) -> tuple[rp.Plan, rp.Cut | None]:
    """Return the plan of which copy of each file under ``roots`` to take, and its cut.

    The current state without ``run_id``/``when``, else the tree at that point (see
    :func:`ctrlops.backup.restore.plan`). Only the folder ``under`` (an absolute path) is
    listed: a restore lists everything, the file browser one folder. Raises InputError
    for an unknown run, CtrlopsError when a listing fails.
    """
    sub = under.strip("/")

    async def objects(*parts: str, metadata: bool) -> list[rp.Obj]:
        # The trailing "/" lists a folder even where an object of the same name exists.
        where = rp.remote_root(files.bucket, files.prefix, *parts, sub) + ("/" if sub else "")
        found = await _list(w, where, metadata=metadata, dest=info.destination)
        # Paths relative to the origin, as the plan and the copy expect them.
        return [replace(o, path=f"{sub}/{o.path}") for o in found] if sub else found

    timed = run_id is not None or when is not None
    current = await objects(rp.CURRENT, metadata=timed)
    cut, versions = None, {}
    if timed:
        base = rp.remote_root(files.bucket, files.prefix, rp.VERSIONS)
        listed = await w.run(rp.list_dirs(w.rclone, w.config, base), timeout=LIST_TIMEOUT)
        if not listed.ok:
            raise _failed("listing versions", w.remote.name, info.destination, listed, w.secret)
        runs = rp.parse_run_dirs(listed.stdout)
        if run_id is not None:
            if run_id not in set(runs) | set(records or {}):
                raise InputError("--run", f"no run {run_id!r} of {info.name} is known")
            record = (records or {}).get(run_id)
            cut = rp.cut_after_run(run_id, runs, record.finished if record else None)
        else:
            assert when is not None
            cut = rp.cut_at(when, runs)
        for run in cut.after:
            versions[run] = await objects(rp.VERSIONS, run, metadata=True)
        notes.append(EXACTNESS_NOTE)
    return rp.plan(current, versions, roots, cut), cut


def _some(paths: list[str]) -> dict[str, Any]:
    return {"count": len(paths), "paths": sorted(paths)[: rp.FIRST_N]}


async def _copy(
    w: _Work, plan: rp.Plan, base: str, target: str, *, overwrite: bool, dest: str
) -> dict[str, Any]:
    """Copy the plan's picks from ``base`` into ``target``; return what was restored,
    transferred and skipped (an existing file is skipped unless ``overwrite``)."""
    existing: set[str] = set()
    if not overwrite and plan.objects:
        wanted = "".join(rp.target_path(target, o.path) + "\n" for o in plan.objects)
        found = await execute(w.remote, ["sh", "-c", _EXISTING, "ctrlops-exists"],
                              stdin=wanted.encode(), timeout=LIST_TIMEOUT)  # fmt: skip
        existing = set(found.stdout.splitlines())
    skipped: list[str] = []
    restored = restored_bytes = moved = moved_bytes = 0
    for n, (origin, objs) in enumerate(sorted(plan.picks.items())):
        todo = [o for o in objs if rp.target_path(target, o.path) not in existing]
        skipped += [rp.target_path(target, o.path) for o in objs if o not in todo]
        if not todo:
            continue
        listing = await w.put(f"files-{n}", rp.files_from(todo))
        src = f"{base}/{origin}"
        argv = rp.copy(w.rclone, w.config, src, target, listing, overwrite=overwrite)
        result = await w.run(argv, timeout=COPY_TIMEOUT)
        if not result.ok:
            raise _failed(f"restoring into {target}", w.remote.name, dest, result, w.secret)
        stats = parse_log(result.stderr).stats
        moved += stats.transfers if stats else 0
        moved_bytes += stats.bytes if stats else 0
        restored += len(todo)
        restored_bytes += sum(o.size for o in todo)
    return {
        "restored": {"files": restored, "bytes": restored_bytes},
        "transferred": {"files": moved, "bytes": moved_bytes},
        "skipped": _some(skipped),
    }


async def verify(job: str, *, download: bool = False) -> dict[str, Any]:
    """Compare ``job``'s sources on its server with ``current/`` at the destination.

    rclone check compares sizes, and hashes where the provider shares one with the local
    disk (``download`` compares the content itself instead). Returns ``{"job", "server",
    "ok", "mode", "hash", "download", "sources_missing", "missing", "differ", "extra",
    "errors", "matched", "extra_is_difference"}``; each category is ``{"count", "paths"}``
    (absolute source paths, the first few). ``missing`` is at the destination, ``extra``
    only at the destination: a difference in mirror mode, expected in copy mode (copy
    never deletes). Raises CtrlopsError when the comparison itself fails.
    """
    info = jobs.get(job)
    # A job whose provider has no usable hash is set to compare contents (--verify-download).
    download = download or bool(info.options.get("verify_download"))
    spec, secret = destinations.load(info.destination)
    files = jobs._files(info, spec.bucket, spec.prefix)
    total = rp.CheckReport()
    hashed = True
    gone: list[str] = []
    async with servers.open_remote(info.server) as remote, _workspace(remote, spec, secret) as w:
        kinds = await execute(remote, ["sh", "-c", _KINDS, "ctrlops-kinds", *info.sources],
                              timeout=60)  # fmt: skip
        excludes = None
        if files.excludes:
            excludes = await w.put("excludes", render_excludes(files).encode())
        for source, kind in zip(info.sources, kinds.stdout.split(), strict=True):
            if kind == "m":
                gone.append(source)
                continue
            # The runner copies a single file into its directory's place (see ctrlops-run).
            root = source if kind == "d" else posixpath.dirname(source)
            dst = rp.remote_root(files.bucket, files.prefix, rp.CURRENT, root)
            argv = rp.check(w.rclone, w.config, source, dst, excludes=excludes, download=download)
            result = await w.run(argv, timeout=COPY_TIMEOUT)
            report = rp.parse_combined(result.stdout)
            if "error reading" in result.stderr or (
                not result.ok and not any(report.paths[k] for k in (*_DIFF, "extra"))
            ):
                raise _failed(f"verifying {source}", remote.name, info.destination, result, secret)
            hashed = hashed and "No common hash" not in result.stderr
            total.add(report, root.rstrip("/") + "/")
    summary = total.summary()
    extra_counts = info.mode == "mirror"
    ok = not gone and all(
        summary[k]["count"] == 0 for k in (*_DIFF, "extra") if k != "extra" or extra_counts
    )
    return {
        "job": job,
        "server": info.server,
        "ok": ok,
        "mode": info.mode,
        "hash": hashed or download,
        "download": download,
        "sources_missing": gone,
        **{k: summary[k] for k in (*_DIFF, "extra")},
        "matched": summary["matched"]["count"],
        "extra_is_difference": extra_counts,
    }


_DIFF = ("missing", "differ", "errors")


# ---- scheduled verification (`ctrlops-run verify` on the server, by cron) ----------------

VERIFY_LINES = 20  # differences listed per verification; the counts are always complete
_SIGNS = {"+": "missing", "*": "differ", "-": "extra", "!": "errors"}
_VERIFY_GRACE = timedelta(seconds=90)
_VERIFY_LOOKBACK = timedelta(days=8)


@dataclass(frozen=True)
class Verification:
    """One record of ``ctrlops-run verify``: its status, and the first differences listed
    (``listed`` by category, absolute source paths; ``restored``: files read back that
    differ from the source)."""

    record: RunRecord
    listed: dict[str, list[str]]
    restored: list[str]


def parse_verifications(text: str) -> list[Verification]:
    """Return the records printed by ``ctrlops-run verify-status`` (oldest first)."""
    out: list[Verification] = []
    for chunk in text.split("\n\n"):
        plain: list[str] = []
        listed: dict[str, list[str]] = {k: [] for k in _SIGNS.values()}
        restored: list[str] = []
        for line in chunk.splitlines():
            key, _, value = line.partition("=")
            if key in ("diff", "restore_diff"):
                sign, path = value[:2], value[2:]
                if len(sign) == 2 and sign[1] == " " and sign[0] in _SIGNS and path:
                    target = listed[_SIGNS[sign[0]]] if key == "diff" else restored
                    target.append(path)
            else:
                plain.append("run=" + value if key == "verify" else line)
        found = run_records.parse_status("\n".join(plain))
        if found:
            out.append(Verification(found[0], listed, restored))
    return out


def _count(record: RunRecord, key: str) -> int:
    try:
        return int(record.extra.get(key) or 0)
    except ValueError:
        return 0


def _differences_text(counts: dict[str, int], restore_failed: int, restore_files: int) -> str:
    words = {
        "missing": "missing at the destination",
        "differ": "different at the destination",
        "extra": "only at the destination (mirror mode should have deleted them)",
        "errors": "could not be compared",
    }
    parts = [f"{n} files {words[k]}" for k, n in counts.items() if n]
    if restore_failed:
        parts.append(
            f"{restore_failed} of {restore_files} files read back from the destination "
            "differ from the server's copy"
        )
    return "; ".join(parts)


def _verdict(
    v: Verification, state: str, job: str, diagnosis: dict[str, str] | None
) -> tuple[str, str, str]:
    """Return (signal green|amber|red, cause, fix) for a verification in ``state``."""
    rec = v.record
    counts = {k: _count(rec, k) for k in _SIGNS.values()}
    restore = rec.extra.get("restore_test", "off")
    files, bad = _count(rec, "restore_files"), _count(rec, "restore_failed")
    if state == "differences":
        fix = (
            f"back up now (`ctrlops job run {job} --wait`), then compare again (`ctrlops job "
            f"verify {job}`): a file changed on the server since the last backup differs "
            "until the next one. A difference that stays means something other than this "
            "job changed or deleted objects at the destination: check who else can write "
            "to the bucket (other tools, lifecycle rules) and do not rely on those files"
        )
        if rec.extra.get("backup_overlap") == "1":
            fix += "; a backup ran during this verification and may explain part of it"
        return (
            "red",
            "the backup does not match the server: " + _differences_text(counts, bad, files),
            fix,
        )
    if state == "ok":
        how = (
            "contents"
            if rec.extra.get("download") == "1"
            else "size and hash"
            if rec.extra.get("hash") != "no"
            else "size only: the provider shares no hash with the disk"
        )
        cause = f"the destination matches the server ({_count(rec, 'matched')} files, {how})"
        if restore == "ok":
            cause += f"; {files} random files read back and identical"
        fix = "" if rec.extra.get("hash") != "no" else "set --verify-download to compare contents"
        return "green", cause, fix
    if state == "running":
        return "green", f"a verification is running since {rec.started:%Y-%m-%d %H:%M} UTC", ""
    if state == "skipped":
        if rec.reason == "backup_running":
            return (
                "amber",
                "a backup of this job was still running hours later, so the verification "
                "did not run",
                "schedule the verification when the backups are usually done",
            )
        return (
            "amber",
            "the previous verification of this job was still running, so this one did not",
            "verify less often, or with fewer --restore-test-files",
        )
    if state == "interrupted":
        return (
            "amber",
            "the verification's process disappeared before it finished (the server "
            "rebooted, or the process was killed)",
            "it runs again at its next scheduled time",
        )
    diag = run_records.reason_diagnosis(rec.reason) or diagnosis or {}
    return (
        "amber",
        "the verification could not compare: "
        + (diag.get("cause") or f"it stopped with exit status {rec.exit_code} ({rec.reason})"),
        diag.get("fix")
        or f"see the check log on the server: ~/.ctrlops/jobs/*/verifies/{rec.run_id}/check.log",
    )


def verification_view(
    v: Verification,
    job: str,
    *,
    missed: Sequence[datetime] = (),
    diagnosis: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Return a verification as a user sees it (pure): ``state`` ok|differences|failed|
    skipped|running|interrupted, the counts with the first paths, the restore test, and
    ``signal`` (green, amber, red) with ``cause`` and ``fix`` in plain words. ``missed``
    scheduled verifications that never started turn a green signal amber."""
    rec = v.record
    state = "interrupted" if rec.state == "running" and rec.alive is False else rec.state
    signal, cause, fix = _verdict(v, state, job, diagnosis)
    if missed and signal == "green":
        signal = "amber"
        cause = (
            f"{len(missed)} scheduled verifications never started (the last due at "
            f"{missed[-1]:%Y-%m-%d %H:%M} UTC); before that: {cause}"
        )
        fix = "check cron on the server: `ctrlops server check SERVER`"
    return {
        **run_records.record_dict(rec),
        "state": state,
        "reason": rec.reason,
        "differences": _count(rec, "differences"),
        **{k: {"count": _count(rec, k), "paths": v.listed[k]} for k in _SIGNS.values()},
        "matched": _count(rec, "matched"),
        "mode": rec.extra.get("mode", ""),
        "hash": rec.extra.get("hash") != "no",
        "download": rec.extra.get("download") == "1",
        "restore_test": {
            "state": rec.extra.get("restore_test", "off"),
            "files": _count(rec, "restore_files"),
            "failed": _count(rec, "restore_failed"),
            "paths": v.restored,
        },
        "backup_overlap": rec.extra.get("backup_overlap") == "1",
        "missed": [m.isoformat() for m in missed],
        "signal": signal,
        "cause": cause,
        "fix": fix,
    }


async def scheduled(
    remote: Remote, info: jobs.JobInfo, provider: str, *, now: datetime
) -> dict[str, Any]:
    """Return ``info``'s latest verification on the server as :func:`verification_view`
    shows it, plus ``next`` (the next scheduled one); ``state`` is ``none`` before the
    first. One round trip, two when it failed (its log is diagnosed too)."""
    expr = info.options.get("verify_schedule")
    tz = info.timezone or "UTC"
    nxt = schedule.next_runs(expr, tz, now, 1)[0].isoformat() if expr else None
    try:
        out = await jobs._runner(remote, "verify-status", info.uid, "0", str(VERIFY_LINES))
    except RemoteCommandError:
        return {
            "state": "unknown",
            "signal": "amber",
            "cause": f"the runner on {info.server} cannot report verifications (it is older "
            "than this ctrlops)",
            "fix": f"redeploy the job: `ctrlops job deploy {info.name}`",
            "next": nxt,
        }
    found = parse_verifications(out)
    missed: list[datetime] = []
    if expr and info.deployed_at:
        since = max(info.deployed_at.replace(tzinfo=UTC), now - _VERIFY_LOOKBACK)
        starts = [v.record.started for v in found if v.record.started]
        # Older records were pruned: nothing before the oldest kept one is known.
        since = max([since, *starts[:1]])
        recs = [v.record for v in found]
        missed = run_records.find_missed(expr, tz, recs, since=since, now=now, grace=_VERIFY_GRACE)
    if not found:
        view: dict[str, Any] = {
            "state": "none",
            "signal": "amber" if missed else "green",
            "cause": "no scheduled verification has run yet",
            "fix": "check cron on the server: `ctrlops server check SERVER`" if missed else "",
            "missed": [m.isoformat() for m in missed],
        }
        return {**view, "next": nxt}
    last = found[-1]
    diagnosis = None
    if last.record.state == "failed" and not run_records.reason_diagnosis(last.record.reason):
        path = f"{layout.job_dir(info.uid)}/verifies/{last.record.run_id}/check.log"
        tail = await execute(
            remote,
            ["sh", "-c", 'tail -c 65536 "$HOME/$1" 2>/dev/null || true', "tail", path],
            timeout=60,
        )
        code = last.record.exit_code
        diagnosis = explain_log(tail.stdout, exit_code=code, provider=provider).as_dict()
    view = verification_view(last, info.name, missed=missed, diagnosis=diagnosis)
    return {**view, "next": nxt}


async def last_verification(job: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Return ``job``'s latest scheduled verification (see :func:`scheduled`) with ``job``
    and ``server``. Raises CtrlopsError when the job has none and no schedule for one."""
    info = jobs.get(job)
    provider = destinations.show(info.destination)["provider"]
    async with servers.open_remote(info.server) as remote:
        view = await scheduled(remote, info, provider, now=now or datetime.now(UTC))
    if view["state"] == "none" and not info.options.get("verify_schedule"):
        raise CtrlopsError(
            f"{job} has no scheduled verification",
            f"schedule one: `ctrlops job edit {job} --verify-schedule '0 3 * * 0'`",
        )
    return {"job": job, "server": info.server, **view}
