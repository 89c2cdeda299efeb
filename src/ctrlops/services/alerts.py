"""Alert channels and the sweep that turns job states into (few) alerts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ctrlops.alerts import notify, policy
from ctrlops.errors import CtrlopsError, InputError
from ctrlops.services import jobs, overview, sync
from ctrlops.store import secrets
from ctrlops.store.db import session
from ctrlops.store.models import Setting

CHANNELS = "alerts"


def _load() -> list[dict[str, Any]]:
    with session() as s:
        row = s.get(Setting, CHANNELS)
        if row is None or not row.secret_enc:
            return []
        data: list[dict[str, Any]] = json.loads(secrets.decrypt(row.secret_enc))
        return data


def _save(channels: list[dict[str, Any]]) -> None:
    # URLs carry tokens and passwords: the whole list is kept encrypted.
    with session() as s:
        row = s.get(Setting, CHANNELS) or Setting(key=CHANNELS, value={})
        row.secret_enc = secrets.encrypt(json.dumps(channels))
        s.add(row)


def add(url: str, job: str | None = None) -> dict[str, Any]:
    """Add an alert channel for one job (or all); raises InputError for a bad URL/job."""
    url = notify.validate_url(url)
    if job is not None:
        jobs.get(job)
    channels = _load()
    channels.append({"url": url, "job": job})
    _save(channels)
    return {"id": len(channels), "to": notify.masked(url), "job": job}


def list_all() -> list[dict[str, Any]]:
    return [
        {"id": i, "to": notify.masked(c["url"]), "job": c["job"]}
        for i, c in enumerate(_load(), start=1)
    ]


def remove(channel_id: int) -> None:
    channels = _load()
    if not 1 <= channel_id <= len(channels):
        raise InputError("ID", f"no alert channel {channel_id} (see `ctrlops alert list`)")
    del channels[channel_id - 1]
    _save(channels)


def _urls_for(job: str | None) -> list[str]:
    return [c["url"] for c in _load() if c["job"] in (None, job)]


async def test() -> dict[str, Any]:
    """Send a test message to every channel; raises CtrlopsError when one fails."""
    urls = _urls_for(None) + [c["url"] for c in _load() if c["job"] is not None]
    if not urls:
        raise InputError("url", "no alert channel yet", "add one: `ctrlops alert add`")
    ok = await notify.send(
        urls, "ctrlops test alert", "Alerts from ctrlops reach you here.", failure=False
    )
    if not ok:
        raise CtrlopsError(
            "at least one alert channel did not accept the test message",
            "check the URL and run with --verbose for Apprise's reason",
        )
    return {"sent": len(urls)}


def _seen(job: str) -> policy.Seen | None:
    with session() as s:
        row = s.get(Setting, f"alert:{job}")
        if row is None:
            return None
        at = row.value.get("notified_at")
        return policy.Seen(row.value["state"], datetime.fromisoformat(at) if at else None)


def _remember(job: str, state: str, notified_at: datetime | None) -> None:
    with session() as s:
        row = s.get(Setting, f"alert:{job}") or Setting(key=f"alert:{job}", value={})
        old = dict(row.value or {})
        if notified_at is None and old.get("state") == state:
            notified_at = (
                datetime.fromisoformat(old["notified_at"]) if old.get("notified_at") else None
            )
        row.value = {
            "state": state,
            "notified_at": notified_at.isoformat() if notified_at else None,
        }
        s.add(row)


def _message(job: str, event: policy.Event, status: dict[str, Any]) -> tuple[str, str]:
    last = status.get("last_run") or {}
    diag = last.get("diagnosis") or {}
    if event.kind == "recovered":
        return f"[ctrlops] {job} recovered", f"{job} is {event.state} again (was {event.previous})."
    lines = [f"{job} on {status.get('server')}: {event.state}"]
    if event.state == "missed":
        lines.append(f"scheduled runs never started: {', '.join(status['missed'][-3:])}")
        lines += [f"likely: {r}" for r in status.get("missed_reasons", [])]
    elif diag:
        lines += [f"cause: {diag.get('cause')}", f"fix: {diag.get('fix')}"]
    if event.kind == "reminder":
        lines.append("(reminder: still not fixed)")
    return f"[ctrlops] {job}: {event.state}", "\n".join(lines)


def _missed_reasons(check: dict[str, Any] | None, missed: datetime) -> list[str]:
    """Name what the server's last check shows that explains a run cron never started."""
    out = [f"{b['text']} ({b['evidence']})" for b in (check or {}).get("banners", [])]
    uptime = (check or {}).get("facts", {}).get("uptime")
    checked = (check or {}).get("checked_at")
    if isinstance(uptime, int | float) and isinstance(checked, datetime):
        booted = checked - timedelta(seconds=uptime)
        if missed < booted:
            out.append(f"the server was down or rebooting (up since {booted:%Y-%m-%d %H:%M} UTC)")
    return out or [
        "cron started nothing and left no record: check the system log for "
        "cron errors (`journalctl -u cron` or /var/log/syslog)"
    ]


def _assessed(
    row: overview.JobRow, check: dict[str, Any] | None, error: dict[str, str] | None
) -> tuple[str, dict[str, Any]]:
    """The job's alerting state and what the message says, from the synced store."""
    if error is not None or (check is not None and not check.get("ok")):
        cause: dict[str, Any] = error or {
            k: (check or {}).get(k) for k in ("category", "cause", "fix")
        }
        return "failed", {"server": row.server, "last_run": {"diagnosis": cause}}
    last = row.last_run
    last_run = (
        {"state": last.state, "started": last.started.isoformat() if last.started else None,
         "diagnosis": last.diagnosis}
        if last is not None else None
    )  # fmt: skip
    status: dict[str, Any] = {"server": row.server, "last_run": last_run, "missed": []}
    if row.missed is not None:
        status["missed"] = [row.missed.isoformat()]
        status["missed_reasons"] = _missed_reasons(check, row.missed)
    return policy.effective_state(status), status


async def sweep(
    *, now: datetime | None = None, reminder: timedelta = policy.DEFAULT_REMINDER
) -> list[dict[str, Any]]:
    """Sync every server once, then send the alerts the jobs' states call for.

    One SSH session per server (``services.sync``), not one per job. A job whose server
    cannot be reached is reported as such, once per change too. Returns what was sent.
    """
    errors = {r.server: r.error for r in await sync.sync_all() if r.error is not None}
    return await alert(errors=errors, now=now, reminder=reminder)


async def alert(
    server: str | None = None,
    *,
    errors: dict[str, dict[str, str]] | None = None,
    now: datetime | None = None,
    reminder: timedelta = policy.DEFAULT_REMINDER,
) -> list[dict[str, Any]]:
    """Send the alerts the synced store calls for, for the jobs of ``server`` (or all).

    ``errors``: servers whose sync failed, with why. The web UI's monitor calls this after
    each sync, so alerts go out while ``ctrlops serve`` runs without a cron'd sweep.
    """
    now = now or datetime.now(UTC)
    errors = errors or {}
    checks = overview.server_checks()
    sent: list[dict[str, Any]] = []
    for row in overview.job_rows(server, now=now):
        state, status = _assessed(row, checks.get(row.server), errors.get(row.server))
        event = policy.decide(_seen(row.name), state, now, reminder)
        if event is None:
            _remember(row.name, state, None)
            continue
        title, body = _message(row.name, event, status)
        ok = await notify.send(_urls_for(row.name), title, body, failure=event.kind != "recovered")
        # Remembered only when delivered, so a failed delivery is tried again next sweep.
        if ok:
            _remember(row.name, state, now)
        sent.append({"job": row.name, "event": event.kind, "state": state, "delivered": ok})
    return sent


def configured() -> bool:
    """Whether any alert channel exists."""
    return bool(_load())
