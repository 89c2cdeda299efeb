"""Put a job on a server: runner, job files, crontab block. Atomic and idempotent.

Every file is written with ``write_file`` (temp + rename), so cron and the runner see
the old version or the new one, never half of one. The crontab is replaced in one
``crontab -`` call, after checking that nobody changed it since it was read (two control
planes deploying at once retry instead of dropping each other's lines).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ctrlops.errors import CtrlopsError, RemoteCommandError
from ctrlops.remote.base import Remote
from ctrlops.remote.exec import execute, write_file
from ctrlops.runner import crontab, layout, script
from ctrlops.runner.jobfile import JobFiles, render_excludes, render_job_env, render_sources

CRONTAB_RETRIES = 5
_CHANGED = 75  # EX_TEMPFAIL: the crontab changed between read and write

# Prints "<cksum>" on the first line, then the crontab exactly as `crontab -l` gives it.
_READ_CRONTAB = r"""
command -v crontab >/dev/null 2>&1 || { echo "no-crontab"; exit 0; }
t=$(mktemp) || exit 1
trap 'rm -f "$t"' EXIT
crontab -l >"$t" 2>/dev/null || : >"$t"
cksum <"$t"
cat "$t"
"""

# Installs stdin as the crontab if it still has checksum $1, under a lock when flock exists.
_WRITE_CRONTAB = r"""
set -u
mkdir -p "$HOME/.ctrlops" && chmod 700 "$HOME/.ctrlops"
exec 8>>"$HOME/.ctrlops/crontab.lock"
command -v flock >/dev/null 2>&1 && flock -w 30 8
now=$(crontab -l 2>/dev/null | cksum)
[ "$now" = "$1" ] || exit 75
crontab -
"""


@dataclass(frozen=True)
class CrontabState:
    installed: bool  # a crontab binary exists
    text: str
    checksum: str


async def read_crontab(remote: Remote) -> CrontabState:
    """Return the remote user's crontab (empty when they have none)."""
    out = (await execute(remote, ["sh", "-c", _READ_CRONTAB], timeout=30)).stdout
    first, _, rest = out.partition("\n")
    if first == "no-crontab":
        return CrontabState(False, "", "")
    return CrontabState(True, rest, first.strip())


async def install_runner(remote: Remote, installed_version: int | None) -> bool:
    """Upload ``ctrlops-run`` unless the same version is there; return True if written."""
    if installed_version == script.RUNNER_VERSION:
        return False
    await write_file(remote, f"~/{layout.RUNNER}", script.load(), mode=0o700)
    return True


async def write_job(remote: Remote, job: JobFiles, rclone_conf: str, *, secret: str) -> None:
    """Write the job's files (0600 in a 0700 directory); credentials only in rclone.conf."""
    base = f"~/{layout.job_dir(job.uid)}"
    await execute(
        remote,
        [
            "sh",
            "-c",
            # Whoever created ~/.ctrlops (an rclone upload, by hand), it holds credentials.
            'umask 077; mkdir -p "$HOME/$1/runs" && chmod 700 "$HOME/.ctrlops" '
            '"$HOME/.ctrlops/jobs" "$HOME/$1"',
            "mkdir",
            layout.job_dir(job.uid),
        ],
        timeout=30,
    )
    files = {
        "rclone.conf": rclone_conf,
        "sources": render_sources(job),
        "excludes": render_excludes(job),
        # Last: the runner refuses to start without job.env, so a half-deployed new job
        # cannot run with files from an older deploy.
        "job.env": render_job_env(job),
    }
    for name, text in files.items():
        try:
            await write_file(remote, f"{base}/{name}", text.encode(), mode=0o600)
        except RemoteCommandError as e:
            raise RemoteCommandError(
                e.host, f"write {base}/{name}", e.exit_status, e.stderr.replace(secret, "********")
            ) from None


async def remove_job_files(remote: Remote, uid: str) -> None:
    """Delete the job's directory on the server (its run records and logs go with it)."""
    await execute(
        remote, ["sh", "-c", 'rm -rf -- "$HOME/$1"', "rm", layout.job_dir(uid)], timeout=60
    )


async def set_schedules(remote: Remote, entries: Callable[[], Iterable[crontab.Entry]]) -> bool:
    """Make the managed crontab block hold exactly what ``entries()`` returns.

    ``entries`` is asked again on every attempt: when another deploy changed the crontab
    in between, its job is in the store by then and so stays in the block. Returns False
    when the server has no crontab binary (scheduled runs cannot happen; the cron banner
    says so). Everything outside the block is kept byte for byte. Raises CtrlopsError when
    the crontab keeps changing under us.
    """
    for _ in range(CRONTAB_RETRIES):
        block = crontab.render_block(sorted(entries(), key=lambda e: e.uid))
        state = await read_crontab(remote)
        if not state.installed:
            return False
        new = crontab.replace_block(state.text, block)
        if new == state.text:
            return True
        result = await execute(
            remote,
            ["sh", "-c", _WRITE_CRONTAB, "write-crontab", state.checksum],
            stdin=new.encode(),
            timeout=60,
            check=False,
        )
        if result.ok:
            return True
        if result.exit_status != _CHANGED:
            raise RemoteCommandError(remote.name, "crontab -", result.exit_status, result.stderr)
    raise CtrlopsError(
        "the crontab kept changing while ctrlops tried to update it",
        "another tool or control plane is editing it; try again in a moment",
        category="config_error",
    )
