"""When to alert (pure): one alert per state change, a reminder while it lasts.

A failure nobody hears about is the same as no backup; a failure announced every minute
gets muted. So: alert when a job turns bad, when it turns bad in another way, when it
recovers, and remind at an interval while it stays bad.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

BAD = frozenset({"failed", "interrupted", "stalled", "killed", "missed", "success, nothing copied"})
QUIET = frozenset({"running", "skipped", "none"})  # says nothing new about coverage
DEFAULT_REMINDER = timedelta(hours=24)


@dataclass(frozen=True)
class Seen:
    """What was last alerted for a job."""

    state: str
    notified_at: datetime | None


@dataclass(frozen=True)
class Event:
    kind: str  # "bad" | "changed" | "reminder" | "recovered"
    state: str
    previous: str | None


def effective_state(status: dict[str, Any]) -> str:
    """The one state a job is in for alerting: ``missed`` when a scheduled run never
    started after the last run, else the last run's state (``none`` before any run)."""
    last = status.get("last_run")
    missed = status.get("missed") or []
    if missed and (last is None or (last.get("started") or "") < missed[-1]):
        return "missed"
    return str(last["state"]) if last else "none"


def decide(
    seen: Seen | None, state: str, now: datetime, reminder: timedelta = DEFAULT_REMINDER
) -> Event | None:
    """Return the alert to send for a job now in ``state``, or None."""
    if state in QUIET:
        return None
    previous = seen.state if seen else None
    if state in BAD:
        if previous not in BAD:
            return Event("bad", state, previous)
        if previous != state:
            return Event("changed", state, previous)
        assert seen is not None
        if seen.notified_at is None or now - seen.notified_at >= reminder:
            return Event("reminder", state, previous)
        return None
    if previous in BAD:
        return Event("recovered", state, previous)
    return None
