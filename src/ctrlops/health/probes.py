"""Facts -> banners. Pure: every banner is decided from facts already gathered.

The seed's four banners keep their exact texts; the others catch the other ways a backup
silently stops running.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ctrlops.services.servers import ServerInfo

MIN_RCLONE = (1, 60)  # --use-json-log stats objects and every flag the runner passes
CLOCK_SKEW_LIMIT = 60  # seconds; S3 rejects requests beyond 15 minutes, cron drifts first
DISK_MIN_FREE_KB = 200 * 1024


def banner(bid: str, severity: str, text: str, fix: str | None, evidence: str) -> dict[str, Any]:
    return {"id": bid, "severity": severity, "text": text, "fix": fix, "evidence": evidence}


def rclone_version(line: str) -> tuple[int, int] | None:
    m = re.search(r"rclone v?(\d+)\.(\d+)", line or "")
    return (int(m[1]), int(m[2])) if m else None


def banners(check: dict[str, Any], info: ServerInfo) -> list[dict[str, Any]]:
    """Return the banners for one server's check result (facts + backup shell state)."""
    from ctrlops.runner.script import RUNNER_VERSION

    facts: dict[str, Any] = check.get("facts") or {}
    out: list[dict[str, Any]] = []
    if check.get("shell", {}).get("state") == "disconnected":
        out.append(
            banner(
                "shell_disconnected",
                "error",
                "Backup Shell Disconnected",
                "reconnect",
                check["shell"].get("reason", ""),
            )
        )
    rclone = facts.get("rclone") or ""
    version = rclone_version(facts.get("rclone_version") or "")
    if not rclone:
        login = facts.get("login_rclone")
        seen = f"; your login shell finds {login}, cron does not" if login else ""
        out.append(
            banner(
                "rclone_missing",
                "warning",
                "Rclone Not Installed",
                "install-rclone",
                f"no rclone in ~/.ctrlops/bin or in cron's PATH{seen}",
            )
        )
    elif version is not None and version < MIN_RCLONE:
        need = ".".join(map(str, MIN_RCLONE))
        out.append(
            banner(
                "rclone_missing",
                "warning",
                "Rclone Not Installed",
                "install-rclone",
                f"{rclone} is {facts.get('rclone_version')}, older than {need} "
                "which the runner needs",
            )
        )
    if not facts.get("crontab") or not facts.get("cron_daemon"):
        missing = "crontab" if not facts.get("crontab") else "the cron daemon"
        out.append(
            banner(
                "cron_missing",
                "error",
                "Cron is required for scheduled backups. Only manual backups will run.",
                "install-cron",
                f"{missing} is not installed",
            )
        )
    elif not facts.get("cron_running"):
        out.append(
            banner(
                "cron_stopped",
                "error",
                "Cron is installed but the service is not running",
                "start-cron",
                f"{facts.get('cron_daemon')} is installed; no cron process runs",
            )
        )
    if facts.get("crontab_drift"):
        out.append(
            banner(
                "crontab_drift",
                "error",
                "Backup schedule changed outside ctrlops",
                "redeploy",
                str(facts["crontab_drift"]),
            )
        )
    offset = facts.get("clock_offset")
    if isinstance(offset, int) and abs(offset) > CLOCK_SKEW_LIMIT:
        out.append(
            banner(
                "clock_skew",
                "warning",
                f"Server clock is off by {offset:+d} s",
                None,
                "schedules fire at the wrong time and S3 rejects requests beyond "
                "15 minutes; enable NTP: `timedatectl set-ntp true`",
            )
        )
    free = facts.get("disk_free_kb")
    if isinstance(free, int) and free < DISK_MIN_FREE_KB:
        out.append(
            banner(
                "disk_low",
                "warning",
                "Disk almost full where backup logs are written",
                None,
                f"{free // 1024} MiB free for ~/.ctrlops",
            )
        )
    runner = facts.get("runner_version")
    if isinstance(runner, int) and runner < RUNNER_VERSION:
        out.append(
            banner(
                "runner_outdated",
                "warning",
                "Backup runner on the server is outdated",
                "update-runner",
                f"version {runner} installed, {RUNNER_VERSION} current",
            )
        )
    return out
