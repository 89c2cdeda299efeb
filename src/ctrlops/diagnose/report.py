"""Whole-log reasoning: one diagnosis for a whole rclone run.

A log holds retries ("Attempt 1/3 failed ..."), follow-on errors and a final summary; the
user needs the one root cause, how many files it cost and what to do. :func:`explain_log`
weighs the first root cause, the final stats and rclone's exit code when it is known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ctrlops.diagnose.rules import MAX_MATCH, RULES, Finding, explain
from ctrlops.rclone.output import LogLine, ParsedLog, Stats, parse_log
from ctrlops.units import human_size

OK = "ok"
MAX_PATHS = 20
MAX_EVIDENCE = 5
MAX_EVIDENCE_CHARS = 500
STALL_WINDOW = 600.0  # seconds without a byte moving before a live run counts as stalled

_ATTEMPT = re.compile(r"^Attempt \d+/\d+ (?P<outcome>failed|succeeded)")
_RUN_FAILED = re.compile(r"^(?:Attempt \d+/\d+ failed|Failed to [\w-]+(?: with \d+ errors)?:)")
# Objects that name a whole remote rather than one file (rclone's Fs String()).
_FS_OBJECT = re.compile(r"^(?:\S+ bucket \S+|Local file system at |pacer$|.* root '?$)")
_STATS_LINE = re.compile(r"^\s*(?:Transferred|Errors|Checks|Deleted):")
_SIGNALLED = {124, 130, 137, 143}  # timeout(1), SIGINT, SIGKILL, SIGTERM as 128+n
# The only rules an INFO line is kept for (INFO is progress; a signal is the one failure
# rclone reports there).
_INFO_CATEGORY = "killed"
_INFO_RULES = tuple(rule for rule in RULES if rule.category == _INFO_CATEGORY)

_EXIT_MEANING: dict[int, tuple[str, str, str]] = {
    1: ("other", "rclone stopped with a usage or fatal error (exit 1)", ""),
    2: ("other", "rclone failed with an uncategorised error (exit 2)", ""),
    3: (
        "source_missing",
        "rclone could not find a directory (exit 3): the source path, or the bucket/prefix",
        "check the job's source path on the server and the destination's bucket and prefix",
    ),
    4: (
        "source_missing",
        "rclone could not find a file it was given (exit 4)",
        "check the job's source paths",
    ),
    5: ("other", "rclone gave up on temporary errors (exit 5); retrying may help", ""),
    6: ("other", "rclone hit errors that retrying will not fix (exit 6)", ""),
    7: ("other", "rclone hit a fatal error (exit 7)", ""),
    8: (
        "other",
        "rclone stopped at the job's --max-transfer limit (exit 8)",
        "raise or remove --max-transfer",
    ),
    10: (
        "other",
        "rclone stopped at the job's --max-duration limit (exit 10)",
        "raise or remove --max-duration",
    ),
    126: (
        "binary_missing",
        "the rclone binary on the server cannot be executed (exit 126)",
        "click Install Rclone to put a working rclone in ~/.ctrlops/bin",
    ),
    127: (
        "binary_missing",
        "rclone is not installed in the runner's PATH (exit 127)",
        "click Install Rclone to put a working rclone in ~/.ctrlops/bin",
    ),
}
_VIEW_LOG = "open the full log (`ctrlops job log NAME`) and run the job again with -vv"


@dataclass(frozen=True)
class Diagnosis:
    """The diagnosis of one run; ``category`` is a failure category or ``"ok"``."""

    category: str
    cause: str
    fix: str
    evidence: tuple[str, ...] = ()
    failed_files: int = 0
    failed_paths: tuple[str, ...] = ()
    stats: Stats | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape of ``ctrlops explain --json``."""
        return {
            "category": self.category,
            "cause": self.cause,
            "fix": self.fix,
            "evidence": list(self.evidence),
            "failed_files": self.failed_files,
            "failed_paths": list(self.failed_paths),
            "stats": self.stats.as_dict() if self.stats else None,
        }


def explain_log(
    text: str,
    *,
    exit_code: int | None = None,
    provider: str | None = None,
    stall_window: float = STALL_WINDOW,
) -> Diagnosis:
    """Return the diagnosis of an rclone log. Never raises (unreadable input -> ``other``).

    ``exit_code`` is rclone's exit status when known (the run's status record);
    ``provider`` (``aws``, ``r2``, ``b2``, ...) refines the fix text.
    """
    try:
        return _diagnose(parse_log(text), exit_code, provider, stall_window)
    except Exception:  # contract: a diagnosis never crashes on a log
        return Diagnosis("other", "the log could not be read", _VIEW_LOG)


def _may_report_a_signal(message: str) -> bool:
    """Return whether an INFO line can yield a finding: only a ``killed`` rule counts there.

    A cheap pre-check, not a decision: a long run's log is almost all INFO progress lines,
    and trying the whole rule table on each cost half the CPU of a cold sync. A line that
    passes still goes through :func:`rules.explain`, so first-match order and the harmless
    list decide exactly as before.
    """
    head = message[:MAX_MATCH]
    return any(rule.pattern.search(head) for rule in _INFO_RULES)


def _findings(log: ParsedLog, provider: str | None) -> list[Finding]:
    out: list[Finding] = []
    for line in log.lines:
        if line.level == "info" and not _may_report_a_signal(line.message):
            continue
        found = explain(line.message, provider)
        if found is None:
            continue
        # INFO lines are progress; the one failure rclone reports there is a signal.
        if line.level == "info" and found.category != _INFO_CATEGORY:
            continue
        out.append(
            Finding(found.rule_id, found.category, found.cause, found.fix, found.weak, line.raw)
        )
    return out


def _root_cause(log: ParsedLog, findings: list[Finding]) -> Finding | None:
    """Return the first strong finding, preferring lines above debug level, else weak."""
    debug = {line.raw for line in log.lines if line.level == "debug"}

    def first(weak: bool, want_debug: bool) -> Finding | None:
        for f in findings:
            if f.weak == weak and (f.line in debug) == want_debug:
                return f
        return None

    return first(False, False) or first(False, True) or first(True, False) or first(True, True)


def _failed_paths(lines: tuple[LogLine, ...]) -> list[str]:
    """Return the items that failed in the final attempt (earlier attempts were retried)."""
    current: list[str] = []
    last_failed: list[str] = []
    for line in lines:
        m = _ATTEMPT.match(line.text)
        if m:
            last_failed = current if m["outcome"] == "failed" else []
            current = []
            continue
        if line.level not in ("error", "critical") or not line.object:
            continue
        if _FS_OBJECT.match(line.object) or line.object in current:
            continue
        current.append(line.object)
    return current or last_failed


def _run_failed(log: ParsedLog, findings: list[Finding], exit_code: int | None) -> bool:
    if exit_code is not None:
        return exit_code not in (0, 9)
    st = log.stats
    if st is not None and (st.errors > 0 or st.fatal_error):
        return True
    unrecovered = False
    for line in log.lines:
        m = _ATTEMPT.match(line.text)
        if m and m["outcome"] == "succeeded":
            unrecovered = False
        elif line.level in ("error", "critical") or _RUN_FAILED.match(line.text):
            # rclone reports the error that ended a command as "Failed to <cmd>: ..."
            # at NOTICE level (e.g. `Failed to ls: ... SignatureDoesNotMatch`).
            unrecovered = True
    raw_failures = any(f.line in {ln.raw for ln in log.lines if not ln.level} for f in findings)
    return unrecovered or raw_failures


def _stalled(log: ParsedLog, exit_code: int | None, window: float) -> Diagnosis | None:
    """Return a stall diagnosis when a still-running log shows no progress for the window."""
    hist = log.stats_history
    if exit_code is not None or len(hist) < 2 or not log.lines:
        return None
    last = hist[-1]
    if last.elapsed is None or "Transferred:" not in log.lines[-1].text:
        return None
    unfinished = last.total_bytes is None or last.bytes < last.total_bytes
    same = [s for s in hist if s.bytes == last.bytes and s.elapsed is not None]
    since = min(s.elapsed for s in same if s.elapsed is not None)
    if not unfinished or last.elapsed - since < window:
        return None
    minutes = int((last.elapsed - since) // 60)
    return Diagnosis(
        "stalled",
        f"no data has moved for {minutes} minutes (stuck at {human_size(last.bytes)}"
        + (f" of {human_size(last.total_bytes)}" if last.total_bytes else "")
        + ")",
        "use Kill This Process, then check the network path from the server to the storage "
        "endpoint; a lower --timeout makes rclone give up on a dead connection sooner",
        evidence=_stats_evidence(log),
        stats=last,
    )


def _stats_evidence(log: ParsedLog) -> tuple[str, ...]:
    for line in reversed(log.lines):
        if "Transferred:" in line.text:
            return tuple(s.strip() for s in line.text.splitlines() if _STATS_LINE.match(s))
    return ()


def _evidence(*groups: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for group in groups:
        for item in group:
            item = item if len(item) <= MAX_EVIDENCE_CHARS else item[:MAX_EVIDENCE_CHARS] + "…"
            if item and item not in out:
                out.append(item)
    return tuple(out[:MAX_EVIDENCE])


def _diagnose(
    log: ParsedLog, exit_code: int | None, provider: str | None, stall_window: float
) -> Diagnosis:
    findings = _findings(log, provider)
    stats = log.stats
    paths = _failed_paths(log.lines)
    rclone_spoke = stats is not None or any(line.level for line in log.lines) or bool(findings)
    signalled = exit_code is not None and (exit_code < 0 or exit_code in _SIGNALLED)
    killed = next((f for f in findings if f.category == "killed" and not f.weak), None)

    if signalled or killed:
        how = f" (exit {exit_code})" if signalled else ""
        cause = killed.cause if killed else "the rclone process was killed before it finished"
        fix = (
            killed.fix
            if killed
            else (
                "if nobody used Kill This Process, look for the OOM killer (`dmesg | grep -i "
                "kill`) or a reboot; then run the job again"
            )
        )
        return Diagnosis(
            "killed",
            cause + how,
            fix,
            _evidence([killed.line] if killed else [], _stats_evidence(log)),
            len(paths),
            tuple(paths[:MAX_PATHS]),
            stats,
        )
    if not rclone_spoke:
        if exit_code in _EXIT_MEANING and exit_code not in (1, 2):
            category, cause, fix = _EXIT_MEANING[exit_code]
            return Diagnosis(category, cause, fix or _VIEW_LOG)
        return Diagnosis(
            "other",
            "the log holds no rclone messages to diagnose"
            + (f" (rclone exited {exit_code})" if exit_code is not None else ""),
            "paste the whole rclone log (View Log -> copy) or run the job again with -v",
        )
    stall = _stalled(log, exit_code, stall_window)
    if stall is not None:
        return stall

    if _run_failed(log, findings, exit_code):
        root = _root_cause(log, findings)
        summary = [ln.raw for ln in log.lines if not ln.object and _RUN_FAILED.match(ln.text)][-1:]
        if root is not None:
            category, cause, fix = root.category, root.cause, root.fix
            first = [root.line]
        elif exit_code in _EXIT_MEANING:
            category, cause, fix = _EXIT_MEANING[exit_code]
            fix = fix or _VIEW_LOG
            first = [ln.raw for ln in log.lines if ln.level in ("error", "critical")][:2]
        else:
            n = stats.errors if stats else 0
            category = "other"
            cause = f"rclone reported {n or 'some'} errors this tool does not recognise"
            fix = _VIEW_LOG
            first = [ln.raw for ln in log.lines if ln.level in ("error", "critical")][:2]
        if paths:
            copied = f", {stats.transfers} copied" if stats and stats.transfers else ""
            files = "file" if len(paths) == 1 else "files"
            cause = f"{cause} ({len(paths)} {files} failed{copied})"
        return Diagnosis(
            category,
            cause,
            fix,
            _evidence(first, summary, _stats_evidence(log)),
            len(paths),
            tuple(paths[:MAX_PATHS]),
            stats,
        )

    recovered = _root_cause(log, findings)
    note = f"; it recovered from: {recovered.cause}" if recovered else ""
    nothing = stats is None or (
        stats.transfers == 0 and stats.checks == 0 and stats.deletes == 0 and stats.renames == 0
    )
    if (stats is not None or exit_code == 9) and nothing:
        return Diagnosis(
            "zero_transferred",
            "the backup ran but copied nothing: 0 files transferred and 0 checked, so the "
            "bucket stays empty (a typo in the source path, or an empty source)",
            "check the job's source path on the server (`ls -la PATH`) and its exclude "
            "rules; the log shows Transferred: 0",
            _evidence(_stats_evidence(log)),
            stats=stats,
        )
    if stats is not None and stats.transfers == 0:
        cause = f"nothing changed since the last run: {stats.checks} files checked, none copied"
    elif stats is not None:
        copied = f"{stats.transfers} files copied ({human_size(stats.bytes)})"
        cause = f"the run finished without errors: {copied}"
    else:
        cause = "the log shows no failure"
    return Diagnosis(
        OK,
        cause + note,
        "",
        _evidence([recovered.line] if recovered else [], _stats_evidence(log)),
        stats=stats,
    )
