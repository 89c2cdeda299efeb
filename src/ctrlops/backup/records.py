"""Run records as the server keeps them, and what they mean to a user (pure).

The runner records ``state`` running/success/failed/killed/skipped/interrupted; the
user-visible state adds what only the log can tell: ``success, nothing copied`` (zero
transferred, zero checked), ``warning`` (finished after retries or with skipped files),
``stalled`` (alive, no progress for the stall window). A run the server lost (reboot, OOM
kill, SIGKILL: no trap of the runner could record its end) is ``interrupted``: the runner
rewrites such a record at the job's next start, and until then a ``running`` record whose
process is gone (``alive=0``) reads the same, so it is never shown as running forever.
A record that cannot vouch for a backup (empty, or a success whose log holds no summary
from rclone: a full disk on the server) reads as ``failed``, never as a success.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ctrlops import schedule
from ctrlops.diagnose import rules
from ctrlops.diagnose.report import Diagnosis

SUCCESS = "success"
NOTHING_COPIED = "success, nothing copied"
WARNING = "warning"
FAILED = "failed"
RUNNING = "running"
STALLED = "stalled"
KILLED = "killed"
SKIPPED = "skipped"
MISSED = "missed"
INTERRUPTED = "interrupted"
# The state of a record without a ``state=`` line (see parse_status).
UNKNOWN = "unknown"

# Category "killed": the run was ended from outside, by the machine rather than by a user.
_INTERRUPTED_DIAGNOSIS: dict[str, str] = {
    "category": "killed",
    "cause": "the server lost the run's process before it finished: the server rebooted "
    "or lost power, or the process was killed (out of memory, or by hand); the files "
    "copied before that are at the destination, the rest are not",
    "fix": "run the job again (Run Now) or wait for its next scheduled run, which copies "
    "the rest; if it keeps happening, check `uptime` for reboots and `dmesg` for the "
    "out-of-memory killer",
}


@dataclass(frozen=True)
class RunRecord:
    """One run's ``status`` file, as the runner wrote it."""

    run_id: str
    state: str
    trigger: str = ""
    pid: int | None = None
    started: datetime | None = None
    finished: datetime | None = None
    exit_code: int | None = None
    reason: str = ""
    alive: bool | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


# The runner's timestamps, exactly: a sync parses tens of thousands (strptime was slow).
_STAMP = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)Z")


def _time(value: str | None) -> datetime | None:
    found = _STAMP.fullmatch(value) if value else None
    if found is None:
        return None
    try:
        y, mo, d, h, mi, sec = map(int, found.groups())
        return datetime(y, mo, d, h, mi, sec, tzinfo=UTC)
    except ValueError:  # 2026-02-30
        return None


def parse_status(text: str) -> list[RunRecord]:
    """Return the records printed by ``ctrlops-run status`` (oldest first)."""
    records: list[RunRecord] = []
    for chunk in text.split("\n\n"):
        kv: dict[str, str] = {}
        for line in chunk.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                kv[key] = value
        if "run" not in kv:
            continue
        records.append(
            RunRecord(
                run_id=kv.pop("run"),
                state=kv.pop("state", "") or UNKNOWN,
                trigger=kv.pop("trigger", ""),
                pid=_int(kv.pop("pid", None)),
                started=_time(kv.pop("started", None)),
                finished=_time(kv.pop("finished", None)),
                exit_code=_int(kv.pop("exit_code", None)),
                reason=kv.pop("reason", ""),
                alive=None if "alive" not in kv else kv.pop("alive") == "1",
                extra=kv,
            )
        )
    return records


def reason_diagnosis(reason: str) -> dict[str, str] | None:
    """Return the diagnosis for a runner ``reason=`` (e.g. ``source_missing:/srv``)."""
    return rules.explain_reason(reason)


def user_state(record: RunRecord, diagnosis: Diagnosis | None) -> tuple[str, dict[str, str]]:
    """Return the state a user sees for ``record`` and the diagnosis to show beside it."""
    shown = diagnosis.as_dict() if diagnosis else {}
    short: dict[str, str] = {k: str(shown[k]) for k in ("category", "cause", "fix") if k in shown}
    if record.state == INTERRUPTED or (record.state == RUNNING and record.alive is False):
        return INTERRUPTED, dict(_INTERRUPTED_DIAGNOSIS)
    if record.state == RUNNING:
        if diagnosis is not None and diagnosis.category == STALLED:
            return STALLED, short
        return RUNNING, {}
    if record.state == SKIPPED:
        return SKIPPED, {
            "category": "other",
            "cause": "the previous run of this job was still going, so this one did not start",
            "fix": "if runs keep overlapping, schedule them further apart or find why a run "
            "takes so long (View Log)",
        }
    if record.state == KILLED:
        return KILLED, {
            "category": "killed",
            "cause": "the run was killed before it finished",
            "fix": "run it again when ready (Run Now)",
        }
    if record.state == UNKNOWN and not record.reason and record.started is None:
        # Not a byte of the record was written: no evidence of a backup, never a success.
        return FAILED, rules.explain_record("empty_record")
    by_reason = reason_diagnosis(record.reason) if record.reason else None
    if record.state == SUCCESS:
        if diagnosis is not None and diagnosis.stats is None:
            # rclone logs a summary as it exits; without one the log cannot vouch for a copy.
            return FAILED, rules.explain_record("no_summary")
        if diagnosis is not None and diagnosis.category == "zero_transferred":
            return NOTHING_COPIED, short
        if diagnosis is not None and diagnosis.stats and diagnosis.stats.errors:
            return WARNING, short
        return SUCCESS, short if diagnosis and diagnosis.category != "ok" else {}
    return FAILED, by_reason or short


def find_missed(
    expr: str,
    tz: str,
    runs: list[RunRecord],
    *,
    since: datetime,
    now: datetime,
    grace: timedelta,
    limit: int = 20,
) -> list[datetime]:
    """Return the scheduled times in ``(since, now - grace]`` with no cron-started record.

    A record started within ``grace`` after a scheduled time (or a minute before it, for
    clock jitter) accounts for that time, whatever its state (a skipped run was triggered).
    """
    until = now - grace
    expected = schedule.expected_runs(expr, tz, since, until, limit=limit)
    starts = sorted(r.started for r in runs if r.started is not None and r.trigger == "cron")
    missed: list[datetime] = []
    for when in expected:
        lo, hi = when - timedelta(minutes=1), when + grace
        if not any(lo <= s <= hi for s in starts):
            missed.append(when)
    return missed


def record_dict(record: RunRecord) -> dict[str, Any]:
    return {
        "id": record.run_id,
        "trigger": record.trigger,
        "started": record.started.isoformat() if record.started else None,
        "finished": record.finished.isoformat() if record.finished else None,
        "exit_code": record.exit_code,
    }
