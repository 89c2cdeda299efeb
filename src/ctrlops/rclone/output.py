"""Parse rclone log text (plain ``-v`` lines or ``--use-json-log`` objects) into typed records.

:func:`parse_log` accepts anything a user may paste or a server may leave behind: both log
forms mixed, multi-line messages (the stats block, aws-sdk-go v1's indented ``status code``
line), truncated JSON, binary garbage. It never raises.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

# rclone's text format: [date time[.micro]] [pid] [file.go:NN:] LEVEL : message; systemd
# journal lines carry a "<N>" priority prefix instead of the date.
_TEXT_LINE = re.compile(
    r"^(?:<\d>)?"
    r"(?P<time>\d{4}/\d{2}/\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?\s*"
    r"(?:\[\d+\]\s*)?(?:\S+\.go:\d+:\s*)?"
    r"(?P<level>EMERGENCY|ALERT|CRITICAL|ERROR|WARNING|NOTICE|INFO|DEBUG)\s*:\s?(?P<msg>.*)$"
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Lines of rclone's stats block (accounting/stats.go), in every version since 1.5x.
_STATS_KEY = re.compile(
    r"^\s*(?:Transferred|Errors|Checks|Deleted|Renamed|Elapsed time|Server Side \w+|"
    r"Transferring|Checking):"
)
# Messages rclone logs without an object although they contain ": " (cmd/cmd.go, config).
_NO_OBJECT = re.compile(
    r"^(?:Attempt \d+/\d+|Failed to [\w-]+(?: with \d+ errors)?:|Failed to create file system|"
    r"Failed to load config|Fatal error|Can't retry|Config file|There was nothing|"
    r"Received retry after|Signal received|Time may be set wrong|Error:|Usage:|"
    r"\S+: (?:line \d+: )?\S+: (?:command )?not found)"
)
_OBJECT_SPLIT = re.compile(r"^(?P<obj>[^\n]{1,4096}?): (?P<msg>\S[^\n]*)$")

MAX_LINE = 64 * 1024  # longer physical lines are cut; nothing useful hides past this


@dataclass(frozen=True)
class LogLine:
    """One rclone log record.

    ``level`` is lowercase (``error``, ``notice``, ...) or ``""`` for a line rclone did not
    write (shell errors, ``Killed``). ``text`` is the message without the object prefix;
    ``object`` is the file or remote it is about, when rclone named one. ``time`` is the
    timestamp as written (rclone's text form is local time without a zone). ``raw`` is the
    line as it appeared in the log.
    """

    level: str
    text: str
    object: str | None
    time: str | None
    raw: str

    @property
    def message(self) -> str:
        """``object: text`` as rclone's text form shows it (one form for both log styles)."""
        return f"{self.object}: {self.text}" if self.object else self.text


# The line ctrlops-run writes into the log before each rclone run of a job.
RUN_MARKER = "ctrlops-run: next source"


@dataclass(frozen=True)
class Stats:
    """rclone's accounting summary; ``None`` where the log did not say."""

    bytes: int = 0
    total_bytes: int | None = None
    transfers: int = 0
    total_transfers: int | None = None
    checks: int = 0
    total_checks: int | None = None
    errors: int = 0
    deletes: int = 0
    renames: int = 0
    listed: int | None = None
    elapsed: float | None = None
    fatal_error: bool | None = None
    retry_error: bool | None = None
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the stats as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class ParsedLog:
    """``lines`` in log order; ``stats`` is the last summary seen (the final one when the run
    finished); ``stats_history`` every summary in order (periodic ones are the heartbeat)."""

    lines: tuple[LogLine, ...]
    stats: Stats | None
    stats_history: tuple[Stats, ...] = ()


def parse_log(text: str | bytes) -> ParsedLog:
    """Return the parsed log. Never raises: what cannot be read becomes a ``level=""`` line."""
    try:
        return _parse(text)
    except Exception:  # contract: a diagnosis must never crash on a log
        return ParsedLog(lines=(), stats=None)


def _parse(text: str | bytes) -> ParsedLog:
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return ParsedLog(lines=(), stats=None)
    lines: list[LogLine] = []
    json_stats: dict[int, Stats] = {}  # index in ``lines`` -> the exact stats object
    in_block = False  # inside a multi-line message started by a text line (stats block)
    for physical in text.splitlines():
        raw = _ANSI.sub("", physical[:MAX_LINE]).rstrip()
        stripped = raw.strip()
        if stripped.startswith("{"):
            in_block = False
            record = _json_line(stripped)
            if record is not None:
                line, st = record
                if st is not None:
                    json_stats[len(lines)] = st
                lines.append(line)
                continue
        m = _TEXT_LINE.match(stripped)
        if m:
            msg = m["msg"]
            obj, body = _split_object(msg)
            lines.append(LogLine(m["level"].lower(), body, obj, m["time"], raw))
            in_block = msg.strip() == "" or bool(_STATS_KEY.match(msg))
            continue
        if not stripped:
            in_block = False
            continue
        prev = lines[-1] if lines else None
        continues = in_block or _STATS_KEY.match(raw) is not None or raw[:1] in (" ", "\t")
        if prev is not None and prev.raw and continues and not prev.raw.lstrip().startswith("{"):
            # A continuation (stats block, sdk v1 "status code" line): keep it with its line.
            joined = f"{prev.text}\n{stripped}" if prev.text else stripped
            lines[-1] = LogLine(prev.level, joined, prev.object, prev.time, f"{prev.raw}\n{raw}")
            in_block = in_block or _STATS_KEY.match(raw) is not None
            continue
        obj, body = _split_object(stripped)
        lines.append(LogLine("", body, obj, None, raw))
        in_block = _STATS_KEY.match(raw) is not None
    stats: list[Stats] = []
    finals: list[Stats | None] = [None]  # the last summary of each rclone run in the log
    for i, line in enumerate(lines):
        if line.text == RUN_MARKER:
            finals.append(None)
            continue
        # A JSON stats line also carries the text block in "msg"; its object is exact.
        st = json_stats.get(i) or stats_from_text(line.text)
        if st is not None:
            stats.append(st)
            finals[-1] = st
    return ParsedLog(
        lines=tuple(lines),
        stats=combined([f for f in finals if f is not None]),
        stats_history=tuple(stats),
    )


def combined(history: list[Stats]) -> Stats | None:
    """The summary of a log that may hold several rclone runs (one per source of a job).

    Each run's counters start again from zero, so a drop in elapsed time marks a new run;
    the last summary of every run is added up. With one run this is its last summary.
    """
    finals: list[Stats] = []
    for st in history:
        if (
            finals
            and st.elapsed is not None
            and finals[-1].elapsed is not None
            and (st.elapsed < finals[-1].elapsed)
        ):
            finals.append(st)
        elif finals:
            finals[-1] = st
        else:
            finals.append(st)
    if len(finals) <= 1:
        return finals[0] if finals else None
    last = finals[-1]

    def total(name: str) -> int:
        return sum(int(getattr(f, name) or 0) for f in finals)

    return replace(
        last,
        bytes=total("bytes"),
        transfers=total("transfers"),
        checks=total("checks"),
        errors=total("errors"),
        deletes=total("deletes"),
        renames=total("renames"),
        elapsed=sum(f.elapsed or 0.0 for f in finals),
        total_bytes=None,
        total_transfers=None,
        total_checks=None,
    )


def _split_object(msg: str) -> tuple[str | None, str]:
    if _NO_OBJECT.match(msg):
        return None, msg
    m = _OBJECT_SPLIT.match(msg)
    if not m:
        return None, msg
    return m["obj"], m["msg"]


def _json_line(s: str) -> tuple[LogLine, Stats | None] | None:
    try:
        obj = json.loads(s)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    level = obj.get("level")
    msg = obj.get("msg")
    obj_name = obj.get("object")
    when = obj.get("time")
    line = LogLine(
        level=level.lower() if isinstance(level, str) else "",
        text=msg.strip("\n") if isinstance(msg, str) else "",
        object=obj_name if isinstance(obj_name, str) and obj_name else None,
        time=when if isinstance(when, str) else None,
        raw=s,
    )
    raw_stats = obj.get("stats")
    st = _stats_from_json(raw_stats) if isinstance(raw_stats, dict) else None
    return line, st


def _int(v: object) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and math.isfinite(v):
        return int(v)
    return None


def _float(v: object) -> float | None:
    if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


def _stats_from_json(d: dict[str, Any]) -> Stats:
    def b(key: str) -> bool | None:
        v = d.get(key)
        return v if isinstance(v, bool) else None

    last = d.get("lastError")
    return Stats(
        bytes=_int(d.get("bytes")) or 0,
        total_bytes=_int(d.get("totalBytes")),
        transfers=_int(d.get("transfers")) or 0,
        total_transfers=_int(d.get("totalTransfers")),
        checks=_int(d.get("checks")) or 0,
        total_checks=_int(d.get("totalChecks")),
        errors=_int(d.get("errors")) or 0,
        deletes=_int(d.get("deletes")) or 0,
        renames=_int(d.get("renames")) or 0,
        listed=_int(d.get("listed")),
        elapsed=_float(d.get("elapsedTime")),
        fatal_error=b("fatalError"),
        retry_error=b("retryError"),
        last_error=last if isinstance(last, str) else None,
    )


# The bytes line has ", ETA"; the file-count line ("Transferred: 3 / 3, 100%") has not.
_BYTES_LINE = re.compile(
    r"^\s*Transferred:\s+(?P<done>[\d.]+\s*[A-Za-z]*)\s*/\s*(?P<total>[\d.]+\s*[A-Za-z]*),"
    r"[^\n]*ETA"
)
_COUNT_LINE = re.compile(r"^\s*Transferred:\s+(?P<n>\d+)\s*/\s*(?P<total>\d+),\s*(?:\d+%|-)\s*$")
_ERRORS_LINE = re.compile(r"^\s*Errors:\s+(?P<n>\d+)(?P<detail>.*)$")
_CHECKS_LINE = re.compile(
    r"^\s*Checks:\s+(?P<n>\d+)\s*/\s*(?P<total>\d+)(?:,[^\n]*?Listed (?P<listed>\d+))?"
)
_DELETED_LINE = re.compile(r"^\s*Deleted:\s+(?P<n>\d+)")
_RENAMED_LINE = re.compile(r"^\s*Renamed:\s+(?P<n>\d+)")
_ELAPSED_LINE = re.compile(r"^\s*Elapsed time:\s+(?P<d>\S+)")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|y|w|d|h|m|s)")
_UNIT = {"": 1, "b": 1, "bytes": 1, "byte": 1}
_POWERS = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def parse_size(s: str) -> int | None:
    """Return the byte count of rclone's ``300 B``, ``1.5 MiB``, ``10.965M``, ``2 kBytes``."""
    m = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]*)\s*", s)
    if not m:
        return None
    try:
        n = float(m[1])
    except ValueError:
        return None
    unit = m[2].lower()
    if unit in _UNIT:
        return int(n)
    power = _POWERS.get(unit[:1])
    if power is None:
        return None
    return int(n * 1024**power)  # rclone's SizeSuffix is binary in every version


def parse_duration(s: str) -> float | None:
    """Return seconds for rclone's elapsed-time text (``8.9s``, ``1h2m3.4s``, ``2d3h0.5s``)."""
    parts = _DURATION_PART.findall(s)
    if not parts or "".join(n + u for n, u in parts) != s.strip():
        return None
    return sum(float(n) * _SECONDS[u] for n, u in parts)


def stats_from_text(text: str) -> Stats | None:
    """Return the stats in a text stats block, or ``None`` when ``text`` holds none."""
    if "Transferred:" not in text:
        return None
    found = False
    values: dict[str, Any] = {}
    for line in text.splitlines():
        if m := _BYTES_LINE.match(line):
            found = True
            values["bytes"] = parse_size(m["done"]) or 0
            values["total_bytes"] = parse_size(m["total"])
        elif m := _COUNT_LINE.match(line):
            found = True
            values["transfers"] = int(m["n"])
            values["total_transfers"] = int(m["total"])
        elif m := _ERRORS_LINE.match(line):
            values["errors"] = int(m["n"])
            detail = m["detail"]
            values["fatal_error"] = "fatal" in detail
            values["retry_error"] = "retrying may help" in detail
        elif m := _CHECKS_LINE.match(line):
            values["checks"] = int(m["n"])
            values["total_checks"] = int(m["total"])
            if m["listed"]:
                values["listed"] = int(m["listed"])
        elif m := _DELETED_LINE.match(line):
            values["deletes"] = int(m["n"])
        elif m := _RENAMED_LINE.match(line):
            values["renames"] = int(m["n"])
        elif m := _ELAPSED_LINE.match(line):
            values["elapsed"] = parse_duration(m["d"])
    return Stats(**values) if found else None
