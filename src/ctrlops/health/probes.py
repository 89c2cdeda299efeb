"""Facts -> banners. Pure: every banner is decided from facts already gathered.

The seed's four banners keep their exact texts; the others catch the other ways a backup
silently stops running.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ctrlops.units import human_size

if TYPE_CHECKING:
    from ctrlops.services.servers import ServerInfo

MIN_RCLONE = (1, 60)  # --use-json-log stats objects and every flag the runner passes
CLOCK_SKEW_LIMIT = 60  # seconds; S3 rejects requests beyond 15 minutes, cron drifts first
S3_SKEW_LIMIT = 900  # seconds; past this every signed S3 request is refused
# Low disk: below DISK_FLOOR_KB free one long run's log (JSON stats every few seconds for
# hours) no longer fits, whatever the disk's size; below DISK_LOW_KB once DISK_LOW_PCT of
# the disk is used, it is filling up. The percentage keeps an almost empty small volume
# (a few MiB mounted for ~/.ctrlops) from a banner it does not deserve.
DISK_FLOOR_KB = 4 * 1024
DISK_LOW_KB = 200 * 1024
DISK_LOW_PCT = 90
# Test Connection / run diagnoses that mean "the provider refuses this key".
CREDENTIAL_CATEGORIES = frozenset({"auth_secret", "auth_key_unknown", "access_denied"})
# Run states in which rclone reached the bucket with the key (a success clears the banner).
REACHED_STATES = frozenset({"success", "success, nothing copied", "warning"})


@dataclass(frozen=True)
class ScheduledJob:
    """A deployed, scheduled job and the server timezone recorded when it was deployed."""

    name: str
    schedule: str
    timezone: str


@dataclass(frozen=True)
class DestEvent:
    """One contact with a destination: its Test Connection or a job's run that used it."""

    dest: str
    at: datetime  # aware UTC
    ok: bool
    category: str | None
    cause: str
    what: str  # "Test Connection from web1", "run 20250101-020000 of job site"


@dataclass(frozen=True)
class Known:
    """What the store knows about the server's jobs, beside the facts read from it."""

    server: str = ""
    jobs: Sequence[ScheduledJob] = ()
    events: Sequence[DestEvent] = ()
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


def banner(bid: str, severity: str, text: str, fix: str | None, evidence: str) -> dict[str, Any]:
    return {"id": bid, "severity": severity, "text": text, "fix": fix, "evidence": evidence}


def rclone_version(line: str) -> tuple[int, int] | None:
    m = re.search(r"rclone v?(\d+)\.(\d+)", line or "")
    return (int(m[1]), int(m[2])) if m else None


def banners(
    check: dict[str, Any], info: ServerInfo, known: Known | None = None
) -> list[dict[str, Any]]:
    """Return the banners for one server's check result (facts + backup shell state).

    ``known`` adds the banners that compare the facts with the store: the timezone jobs
    were scheduled in, and destinations whose credentials were last refused.
    """
    from ctrlops.runner.script import RUNNER_VERSION

    known = known or Known(server=info.name)
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
    out += [b for b in (clock_skew(facts), disk_low(facts)) if b is not None]
    zone = timezone_changed(str(facts.get("timezone") or ""), known.jobs, known.now)
    if zone is not None:
        out.append(zone)
    out += dest_credentials(known.events, known.server or info.name)
    runner = facts.get("runner_version")
    if isinstance(runner, int) and runner < RUNNER_VERSION:
        out.append(
            banner(
                "runner_outdated",
                "warning",
                "Backup runner on the server is outdated",
                "redeploy",  # a deploy installs the current runner
                f"version {runner} installed, {RUNNER_VERSION} current",
            )
        )
    return out


def _hms(seconds: int) -> str:
    m, sec = divmod(abs(seconds), 60)
    h, m = divmod(m, 60)
    text = f"{h} h {m} min" if h else f"{m} min {sec} s" if m else f"{sec} s"
    return ("ahead by " if seconds > 0 else "behind by ") + text


def clock_skew(facts: dict[str, Any]) -> dict[str, Any] | None:
    """Banner when the server's clock is off by more than :data:`CLOCK_SKEW_LIMIT`.

    An error past :data:`S3_SKEW_LIMIT` (S3 refuses every request), a warning before.
    """
    offset = facts.get("clock_offset")
    if not isinstance(offset, int) or abs(offset) <= CLOCK_SKEW_LIMIT:
        return None
    error = facts.get("clock_error")
    bound = f" (±{error} s)" if isinstance(error, int | float) else ""
    if abs(offset) > S3_SKEW_LIMIT:
        effect = "S3 refuses every request signed more than 15 minutes off (RequestTimeTooSkewed)"
    else:
        effect = f"S3 starts refusing requests once it is {S3_SKEW_LIMIT // 60} minutes off"
    how = (
        "`sudo timedatectl set-ntp true`"
        if facts.get("init") == "systemd"
        else "install and start an NTP client (chrony or ntpsec)"
    )
    return banner(
        "clock_skew",
        "error" if abs(offset) > S3_SKEW_LIMIT else "warning",
        f"Server clock is off by {offset:+d} s",
        None,
        f"measured over SSH: the server's clock is {_hms(offset)}{bound} compared with "
        f"this machine's; scheduled backups fire at the wrong time and {effect}. "
        f"Fix: sync the server's time: {how}",
    )


def disk_low(facts: dict[str, Any]) -> dict[str, Any] | None:
    """Banner when the filesystem holding ``~/.ctrlops`` is nearly full.

    Low means under :data:`DISK_FLOOR_KB` free, or under :data:`DISK_LOW_KB` free with
    at least :data:`DISK_LOW_PCT` % used; the evidence states this rule.
    """
    free = facts.get("disk_free_kb")
    if not isinstance(free, int):
        return None
    size = facts.get("disk_size_kb")
    used = facts.get("disk_used_pct")
    if not isinstance(used, int) and isinstance(size, int) and size > 0:
        used = 100 - free * 100 // size
    filling = isinstance(used, int) and used >= DISK_LOW_PCT and free < DISK_LOW_KB
    if free >= DISK_FLOOR_KB and not filling:
        return None
    of = f" of {human_size(size * 1024)}" if isinstance(size, int) else ""
    pct = f", {used}% used" if isinstance(used, int) else ""
    mount = facts.get("disk_mount") or "the filesystem"
    return banner(
        "disk_low",
        "error" if free < DISK_FLOOR_KB else "warning",
        "Disk almost full where backup logs are written",
        None,
        f"{human_size(free * 1024)} free{of}{pct} on {mount}, which holds ~/.ctrlops (run "
        "logs and status records: a run that cannot write them is not recorded). The rule: "
        f"under {DISK_FLOOR_KB // 1024} MiB free, or under {DISK_LOW_KB // 1024} MiB once "
        f"{DISK_LOW_PCT}% is used. Fix: free space on {mount} "
        "(`du -sh ~/.ctrlops/jobs/*/runs` on the server shows what run logs take)",
    )


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def same_rules(a: str, b: str, now: datetime) -> bool:
    """True when zones ``a`` and ``b`` give the same UTC offset all through the next year.

    Names alone mislead: "Etc/UTC" and "UTC" (or Europe/Berlin and Europe/Paris) put cron's
    times at the same instants. An unknown name is only the same as itself.
    """
    if a == b:
        return True
    za, zb = _zone(a), _zone(b)
    if za is None or zb is None:
        return False
    start = now.astimezone(UTC)
    for day in range(0, 372):
        t = start + timedelta(days=day)
        if t.astimezone(za).utcoffset() != t.astimezone(zb).utcoffset():
            return False
    return True


def _utc_offset(name: str, now: datetime) -> str:
    z = _zone(name)
    if z is None:
        return ""
    off = now.astimezone(z).strftime("%z")
    return f" (UTC{off[:3]}:{off[3:]})"


def timezone_changed(
    server_tz: str, jobs: Iterable[ScheduledJob], now: datetime
) -> dict[str, Any] | None:
    """Banner when the server now runs cron in another zone than jobs were scheduled in."""
    if not server_tz:
        return None
    stale: dict[str, list[ScheduledJob]] = {}
    for job in jobs:
        if job.timezone and not same_rules(job.timezone, server_tz, now):
            stale.setdefault(job.timezone, []).append(job)
    if not stale:
        return None
    was = "; ".join(
        ", ".join(f"{j.name} ({j.schedule})" for j in group)
        + f" scheduled in {zone}{_utc_offset(zone, now)}"
        for zone, group in sorted(stale.items())
    )
    return banner(
        "timezone_changed",
        "warning",
        "Server timezone changed since jobs were scheduled",
        "redeploy",
        f"cron on the server now fires in {server_tz}{_utc_offset(server_tz, now)}; {was}. "
        f"Their schedules now run at those clock times in {server_tz}, at other instants "
        "than planned, and missed-run detection reads them in the old zone. Redeploy "
        f"records {server_tz}: the schedules are then read in {server_tz} (edit a schedule "
        "with `ctrlops job edit NAME --schedule` to keep its old instants)",
    )


def _credential_fix(category: str | None, dest: str) -> str:
    if category == "auth_secret":
        return f"paste the right secret access key: `ctrlops dest edit {dest} --secret-stdin`"
    if category == "auth_key_unknown":
        return (
            "set a key pair the provider knows: "
            f"`ctrlops dest edit {dest} --access-key-id KEY_ID --secret-stdin`"
        )
    return (
        f"re-enter the key (`ctrlops dest edit {dest} --secret-stdin`, with "
        "`--access-key-id KEY_ID` for another key) and check in the provider's console that "
        "it may list, read and write the bucket"
    )


def dest_credentials(events: Iterable[DestEvent], server: str) -> list[dict[str, Any]]:
    """One banner per destination whose latest refusal of its key has no success after it.

    A later successful Test Connection or run clears it; a later failure for another
    reason does not (it says nothing about the key).
    """
    refused: dict[str, DestEvent] = {}
    reached: dict[str, DestEvent] = {}
    for e in events:
        latest = reached if e.ok else refused if e.category in CREDENTIAL_CATEGORIES else None
        if latest is not None and (e.dest not in latest or e.at > latest[e.dest].at):
            latest[e.dest] = e
    out: list[dict[str, Any]] = []
    for dest, e in sorted(refused.items()):
        if dest in reached and reached[dest].at >= e.at:
            continue
        when = e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        out.append(
            banner(
                "dest_credentials",
                "error",
                f"Destination {dest} refuses its credentials: backups to it fail",
                None,
                f"{e.what} failed on {when}: {e.cause} ({e.category}); nothing has "
                f"reached {dest} since. Fix: {_credential_fix(e.category, dest)}, then "
                f"Test Connection: `ctrlops dest test {dest} --server {server}`",
            )
        )
    return out
