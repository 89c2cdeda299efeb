"""Restore a job's files from its destination (verification: :mod:`.verification`).

rclone runs on a server (the job's own, or any registered one for a restore), talking to
the bucket directly: no data passes through the control plane. It reads its remote from
a temporary 0600 ``rclone.conf`` under ``~/.ctrlops/tmp/<random>/``, removed afterwards
whatever happens; the secret is never on a command line. Which copy of each file a
point-in-time restore takes is decided by :func:`ctrlops.backup.restore.plan`.
"""

from __future__ import annotations

import contextlib
import secrets as pysecrets
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ctrlops.backup import restore as rp
from ctrlops.backup.records import RunRecord
from ctrlops.errors import ConnectionFailed, CtrlopsError, InputError, RemoteCommandError
from ctrlops.rclone.output import parse_log
from ctrlops.rclone.providers import DestinationSpec, rclone_config
from ctrlops.remote.base import Remote, Result
from ctrlops.remote.exec import execute, mask, write_file
from ctrlops.runner import layout
from ctrlops.runner.jobfile import JobFiles
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
