"""Verify a backup against its source: on demand, and as the server's scheduled verify says.

On demand (:func:`verify`), rclone check runs on the job's server against ``current/`` at
the destination, reading its remote from the restore service's temporary 0600 config (the
secret is never on a command line). Scheduled (:func:`scheduled`, :func:`last_verification`),
the runner's own ``verify`` has compared the sources (and, with ``--restore-test-files``,
read a sample of files back and compared them) and left a record on the server: these read
that record and say what it means. Split from :mod:`ctrlops.services.restore`, which keeps
the restore itself.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ctrlops import schedule
from ctrlops.backup import records as run_records
from ctrlops.backup import restore as rp
from ctrlops.backup.records import RunRecord
from ctrlops.diagnose.report import explain_log
from ctrlops.errors import CtrlopsError, RemoteCommandError
from ctrlops.remote.base import Remote
from ctrlops.remote.exec import execute
from ctrlops.runner import layout
from ctrlops.runner.jobfile import render_excludes
from ctrlops.services import destinations, jobs, restore, servers

# Prints d, f or m (missing) for each argument.
_KINDS = (
    'for p; do if [ -d "$p" ]; then echo d; elif [ -e "$p" ]; then echo f; else echo m; fi; done'
)
_DIFF = ("missing", "differ", "errors")


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
    async with (
        servers.open_remote(info.server) as remote,
        restore._workspace(remote, spec, secret) as w,
    ):
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
            result = await w.run(argv, timeout=restore.COPY_TIMEOUT)
            report = rp.parse_combined(result.stdout)
            if "error reading" in result.stderr or (
                not result.ok and not any(report.paths[k] for k in (*_DIFF, "extra"))
            ):
                raise restore._failed(
                    f"verifying {source}", remote.name, info.destination, result, secret
                )
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
