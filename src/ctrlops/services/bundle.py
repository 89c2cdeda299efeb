"""The support bundle (``ctrlops bundle JOB``): the seed's "gather details and ask" table.

One tar.gz (0600) with a readable ``summary.md`` and the raw material behind it: the
failing run's log, the destination's configuration card, the failure's time, the
server's date/timezone output, every banner showing, the offline diagnosis, versions and
the job's configuration. Every text goes through :func:`ctrlops.ai.redact.redact` with
every secret this installation knows before it is written: a bundle is made to be shared.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ctrlops import __version__, paths
from ctrlops.ai.redact import redact
from ctrlops.backup import records
from ctrlops.backup.records import RunRecord
from ctrlops.diagnose.report import explain_log
from ctrlops.errors import CtrlopsError
from ctrlops.remote.exec import MASK, execute
from ctrlops.services import destinations, jobs, servers
from ctrlops.services.ai import known_secrets
from ctrlops.services.health import local_rclone
from ctrlops.store.db import session
from ctrlops.store.models import Job, Run

# What the Destination Configuration card calls each provider.
PROVIDER_NAMES = {
    "aws": "Amazon S3",
    "r2": "Cloudflare R2",
    "b2": "Backblaze B2",
    "wasabi": "Wasabi",
    "minio": "MinIO",
    "spaces": "DigitalOcean Spaces",
    "s3": "S3-compatible (generic)",
}

# The seed asks for `timedatectl`; minimal images and containers lack it (or systemd), so
# the plain date and zone files are gathered too, and the last line says how it went.
_SERVER_TIME = r"""
echo '$ date'; date
echo '$ date -u'; date -u
echo '$ date +%z (%Z)'; date '+%z (%Z)'
echo '$ timedatectl'
if command -v timedatectl >/dev/null 2>&1; then
  timedatectl 2>&1 </dev/null; st=$?
else
  echo 'timedatectl: not installed on this server'; st=missing
fi
echo '$ cat /etc/timezone'; cat /etc/timezone 2>&1
echo '$ readlink /etc/localtime'; readlink /etc/localtime 2>&1 || echo '(not a symlink)'
echo "TZ=${TZ-(unset)}"
echo "ctrlops-timedatectl=$st"
"""
_MARKER = "ctrlops-timedatectl="


def _failing(recs: list[RunRecord]) -> RunRecord | None:
    """The last run that failed (a run whose process vanished counts), else the last run."""
    bad = [
        r
        for r in recs
        if r.state in (records.FAILED, records.KILLED, records.INTERRUPTED)
        or (r.state == records.RUNNING and r.alive is False)
    ]
    pool = bad or recs
    return pool[-1] if pool else None


def _cached_run(job: str) -> dict[str, Any] | None:
    """The control plane's cached copy of the failing run, when the server cannot answer."""
    with session() as s:
        rows = list(s.scalars(select(Run).join(Job).where(Job.name == job).order_by(Run.run_id)))
        bad = [r for r in rows if r.state not in ("success", "running", "skipped")]
        if not (bad or rows):
            return None
        row = (bad or rows)[-1]
        return {
            "id": row.run_id,
            "state": row.state,
            "trigger": row.trigger,
            "started": row.started.isoformat() if row.started else None,
            "finished": row.finished.isoformat() if row.finished else None,
            "exit_code": row.exit_code,
            "diagnosis": dict(row.diagnosis or {}) or None,
            "cached": True,
        }


async def _run_and_log(
    info: jobs.JobInfo, missing: list[str]
) -> tuple[dict[str, Any] | None, str, list[dict[str, Any]]]:
    """Return (the failing run, its log tail, the recent run records)."""
    try:
        async with servers.open_remote(info.server) as remote:
            recs = await jobs._records(remote, info.uid)
        chosen = _failing(recs)
        if chosen is None:
            missing.append("the job has not run yet: there is no run log")
            return None, "", []
        explained = await jobs.explain(info.name, chosen.run_id)
    except CtrlopsError as e:
        missing.append(f"the run records on {info.server} could not be read: {e.cause}")
        run = _cached_run(info.name)
        if run is not None:
            missing.append("the run shown is the control plane's cached copy; its log is absent")
        return run, "", []
    listed = [{**records.record_dict(r), "state": r.state, "reason": r.reason} for r in recs]
    return explained["run"], explained["log_tail"], listed[-20:]


async def _server_time(server: str, missing: list[str]) -> tuple[str, str]:
    """Return (the server's date/timezone output, how timedatectl went)."""
    try:
        async with servers.open_remote(server) as remote:
            result = await execute(remote, ["sh", "-c", _SERVER_TIME], timeout=30, check=False)
    except CtrlopsError as e:
        missing.append(f"the server's date and timezone could not be read: {e.cause}")
        return "", "not run"
    text, _, status = result.stdout.rpartition(_MARKER)
    status = status.strip()
    how = {"missing": "not installed on the server", "0": "ok"}.get(
        status, f"failed (exit {status or '?'}); see its output"
    )
    return text.rstrip() + ("\n" + result.stderr if result.stderr.strip() else ""), how


def _rclone_version() -> str:
    try:
        out = subprocess.run(
            [str(local_rclone()), "version"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return f"unknown ({e})"
    return out.splitlines()[0].strip() if out.strip() else "unknown"


def _destination(name: str) -> dict[str, Any]:
    d = destinations.show(name)
    return {
        **d,
        "type": "S3-compatible object storage",
        "provider_name": PROVIDER_NAMES.get(d["provider"], d["provider"]),
        "access_key_id": MASK,
        "secret_access_key": MASK,
    }


def _lines(items: list[str]) -> list[str]:
    return [f"- {i}" for i in items]


def _summary(g: dict[str, Any]) -> str:
    info: jobs.JobInfo = g["job"]
    run, d, check = g["run"], g["destination"], g["check"]
    out = [
        f"# ctrlops support bundle: job `{info.name}`",
        "",
        f"Made {g['made']} by ctrlops {__version__}. Secrets are replaced by `{MASK}`.",
        "",
        "## Job and the failing run",
        "",
        *_lines(
            [
                f"Job: `{info.name}` on server `{info.server}` -> destination "
                f"`{info.destination}` (mode {info.mode}, "
                f"schedule {info.schedule or 'manual only'})",
            ]
        ),
    ]
    if run is None:
        out += _lines(["Run: none (see Not gathered)"])
    else:
        diag = run.get("diagnosis") or {"category": "ok", "cause": "no failure in the log"}
        out += _lines(
            [
                f"Run: `{run['id']}` ({run.get('trigger') or '?'}), state **{run['state']}**, "
                f"exit code {run.get('exit_code')}",
                f"Failure time (UTC): {run.get('finished') or run.get('started') or 'unknown'} "
                f"(started {run.get('started') or 'unknown'})",
                f"Diagnosis (offline): **{diag.get('category')}**: {diag.get('cause')}",
                f"Fix: {diag.get('fix') or '-'}",
            ]
        )
        for line in g["evidence"]:
            out.append(f"  > {line}")
    out += [
        "",
        "## Destination configuration",
        "",
        *_lines(
            [
                f"Type: {d['type']}; provider: {d['provider_name']} (`{d['provider']}`)",
                f"Bucket: `{d['bucket']}`, prefix: `{d['prefix'] or ''}`, "
                f"region: {d['region'] or '-'}, endpoint: {d['endpoint'] or '-'}",
                f"Access key: {MASK}, secret key: {MASK}",
                "Last Test Connection: "
                + (
                    f"{'ok' if d['last_test'].get('ok') else d['last_test'].get('category')} "
                    f"at {d['last_test'].get('at')}"
                    if d["last_test"]
                    else "never run"
                ),
            ]
        ),
        "",
        "## Banners showing now",
        "",
    ]
    if not check["ok"]:
        out += _lines(
            [
                f"The server could not be checked ({check.get('layer')}): "
                f"{check.get('cause')}; fix: {check.get('fix')}"
            ]
        )
    banners = [
        f"**{b['text']}** ({b['severity']}): {b['evidence']}"
        + (f"; fix: `ctrlops server fix {info.server} {b['fix']}`" if b.get("fix") else "")
        for b in check.get("banners", [])
    ]
    out += _lines(banners) if banners else ["No banner is showing."]
    out += [
        "",
        "## Server date and timezone",
        "",
        f"timedatectl: {g['timedatectl']}",
        "",
        "```text",
        g["server_time"] or "(not gathered)",
        "```",
        "",
        "## Versions",
        "",
        *_lines(
            [
                f"ctrlops {__version__}",
                f"rclone on this machine: {g['rclone']}",
                f"rclone on the server: {check.get('facts', {}).get('rclone_version') or '?'} "
                f"({check.get('facts', {}).get('rclone') or 'not found'})",
                f"runner on the server: version {check.get('facts', {}).get('runner_version')}",
                f"server OS: {check.get('facts', {}).get('os') or '?'}",
            ]
        ),
    ]
    if g["missing"]:
        out += ["", "## Not gathered", "", *_lines(g["missing"])]
    out += ["", "## Files", "", *_lines([f"`{n}`: {why}" for n, why in g["files"].items()])]
    return "\n".join(out) + "\n"


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n"


def _target(job: str, out: Path | None, stamp: str) -> Path:
    name = f"ctrlops-bundle-{job}-{stamp}.tar.gz"
    if out is None:
        return paths.home() / "bundles" / name
    return out / name if out.is_dir() else out


def _write(path: Path, top: str, files: dict[str, bytes], mtime: float) -> None:
    """Write the archive 0600 from its first byte, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing temp file keeps its mode otherwise
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for name, data in files.items():
                member = tarfile.TarInfo(f"{top}/{name}")
                member.size, member.mode, member.mtime = len(data), 0o600, int(mtime)
                tar.addfile(member, io.BytesIO(data))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


async def bundle(job: str, out: Path | None = None) -> dict[str, Any]:
    """Write the support bundle of ``job``; return ``{"path", "files", "job", "run"}``.

    ``out`` is the archive's path or a directory for it (default: ``bundles/`` in the
    ctrlops home). What cannot be gathered (server down, no run yet) is said in the
    summary instead. Raises NotFoundError for an unknown job.
    """
    info = jobs.get(job)
    now = datetime.now(UTC)
    missing: list[str] = []
    run, log_text, recent = await _run_and_log(info, missing)
    provider = destinations.show(info.destination)["provider"]
    shown = explain_log(log_text, exit_code=(run or {}).get("exit_code"), provider=provider)
    # Only lines that support the run's diagnosis (a runner-level failure has none there).
    same = shown.category == ((run or {}).get("diagnosis") or {}).get("category")
    evidence = list(shown.evidence) if log_text and same else []
    server_time, timedatectl = await _server_time(info.server, missing)
    check = await servers.check(info.server)
    g: dict[str, Any] = {
        "job": info,
        "made": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run": run,
        "evidence": evidence,
        "destination": _destination(info.destination),
        "check": check,
        "server_time": server_time,
        "timedatectl": timedatectl,
        "rclone": await asyncio.to_thread(_rclone_version),
        "missing": missing,
    }
    texts = {
        "rclone.log": log_text or "(no log: see summary.md)\n",
        "run.json": _dump({"run": run, "evidence": evidence, "recent_runs": recent}),
        "destination.json": _dump(g["destination"]),
        "server-check.json": _dump(check),
        "server-time.txt": (server_time or "(not gathered)") + f"\ntimedatectl: {timedatectl}\n",
        "job.json": _dump({**info.as_dict(), "options": info.options}),
        "versions.txt": f"ctrlops {__version__}\nrclone {g['rclone']}\n",
    }
    g["files"] = {
        "summary.md": "this page",
        "rclone.log": "the failing run's rclone log (its last 256 KiB)",
        "run.json": "the run, its offline diagnosis and the job's recent runs",
        "destination.json": "the Destination Configuration card (keys masked)",
        "server-check.json": "`ctrlops server check`: layers, facts and banners",
        "server-time.txt": "the server's date, timedatectl and timezone output",
        "job.json": "the job's configuration",
        "versions.txt": "ctrlops and rclone versions",
    }
    texts = {"summary.md": _summary(g), **texts}
    secrets = known_secrets()
    data = {name: redact(text, secrets=secrets).encode() for name, text in texts.items()}
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    path = _target(job, out, stamp)
    top = f"ctrlops-bundle-{job}-{stamp}"
    await asyncio.to_thread(_write, path, top, data, now.timestamp())
    return {
        "path": str(path),
        "files": [f"{top}/{n}" for n in data],
        "job": job,
        "run": run["id"] if run else None,
    }
