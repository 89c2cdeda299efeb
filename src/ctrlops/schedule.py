"""Cron math in the server's timezone: validation, words, next runs, expected runs.

Cron on the server evaluates the schedule in the server's local time, so everything here
works in that zone (via cronsim, which mimics Debian cron around DST changes) and returns
aware UTC datetimes. "Now" is always passed in.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from ctrlops.errors import InputError

FIX = "use five fields: minute hour day-of-month month day-of-week, e.g. '0 2 * * *'"

# Debian cron's macros that repeat (@reboot does not, so it has no schedule to check).
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# cronsim understands more than Debian cron (L, W, #, ?, seconds); a line with those would
# make `crontab` refuse the whole file, so only what Debian cron reads is allowed.
_NUMERIC = re.compile(r"[0-9*,/-]+")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")

DEFAULT_LIMIT = 1000


def validate(expr: str) -> str:
    """Return ``expr`` normalised to five single-space-separated fields.

    Raises ``InputError("schedule", reason)`` for anything Debian cron would not run the
    same way, with cronsim's own message for out-of-range values.
    """
    text = " ".join(expr.split())
    if not text:
        raise InputError("schedule", "is empty", FIX)
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise InputError("schedule", f"{text!r} is not a repeating cron macro", FIX)
        text = MACROS[text.lower()]
    fields = text.split(" ")
    if len(fields) != 5:
        raise InputError("schedule", f"has {len(fields)} fields, cron needs 5", FIX)
    for index, field in enumerate(fields):
        names: tuple[str, ...] = _MONTHS if index == 3 else _DAYS if index == 4 else ()
        # Debian cron takes a name only as the whole field ("mon"), not in ranges/lists.
        if not _NUMERIC.fullmatch(field) and field.lower() not in names:
            raise InputError("schedule", f"{_FIELDS[index]} field {field!r} is not valid", FIX)
    try:
        CronSim(text, datetime(2000, 1, 1))
    except CronSimError as exc:
        raise InputError("schedule", str(exc), FIX) from None
    return text


def zone(name: str) -> ZoneInfo:
    """Return the IANA zone ``name``; raise ``InputError("timezone")`` for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError("timezone", f"{name!r} is not a known IANA timezone") from None


def describe(expr: str) -> str:
    """Return ``expr`` in words, e.g. "At 02:00 on Monday through Friday".

    Raises ``InputError("schedule")`` for an invalid expression.
    """
    return str(CronSim(validate(expr), datetime(2000, 1, 1)).explain())


def _aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


def _iter(expr: str, tz: str | ZoneInfo, start: datetime, reverse: bool) -> Iterator[datetime]:
    where = tz if isinstance(tz, ZoneInfo) else zone(tz)
    sim = CronSim(validate(expr), start.astimezone(where), reverse=reverse)
    for local in sim:
        yield local.astimezone(UTC)


def next_runs(expr: str, tz: str | ZoneInfo, now: datetime, n: int = 5) -> list[datetime]:
    """Return the next ``n`` run times strictly after ``now``, as aware UTC datetimes.

    Raises ``InputError`` for a bad schedule or zone, ValueError for a naive ``now``.
    """
    runs: list[datetime] = []
    if n <= 0:
        return runs
    for when in _iter(expr, tz, _aware("now", now), reverse=False):
        runs.append(when)
        if len(runs) == n:
            break
    return runs


def expected_runs(
    expr: str,
    tz: str | ZoneInfo,
    since: datetime,
    until: datetime,
    limit: int = DEFAULT_LIMIT,
) -> list[datetime]:
    """Return the run times in ``(since, until]`` in ascending aware UTC, at most ``limit``.

    When more fall in the window only the latest ``limit`` are returned: they are the
    ones a missed-run check cares about. The walk goes forward from ``since``, as cron
    does: on a DST fall-back day a time in the repeated hour counts once, at its first
    occurrence (walking backwards would find the second one instead). Raises like
    :func:`next_runs`.
    """
    _aware("since", since)
    _aware("until", until)
    if until <= since or limit <= 0:
        return []
    runs: deque[datetime] = deque(maxlen=limit)
    for when in _iter(expr, tz, _walk_start(expr, tz, since, until, limit), reverse=False):
        if when > until:
            break
        if when > since:
            runs.append(when)
    return list(runs)


# Walks start this far before the earliest run they must find: more than any DST shift,
# so a forward walk is never begun inside a repeated hour that holds a wanted run.
_WALK_MARGIN = timedelta(hours=3)


def _walk_start(
    expr: str, tz: str | ZoneInfo, since: datetime, until: datetime, limit: int
) -> datetime:
    """Where the forward walk of :func:`expected_runs` may begin.

    A job deployed a month ago with an every-minute schedule would otherwise cost a
    43,200-step walk on every page view. Stepping back ``limit`` runs from ``until``
    finds the oldest run that can be returned; the walk starts a margin before it.
    """
    back = list(itertools.islice(_iter(expr, tz, until + timedelta(minutes=1), True), limit + 1))
    if len(back) <= limit:
        return since
    return max(since, back[-1] - _WALK_MARGIN)
