"""The managed crontab block (pure): render, find, parse and replace it.

Everything outside ``# BEGIN ctrlops`` … ``# END ctrlops`` belongs to the user and is
kept byte for byte. Inside, a checksum line over the block's other lines makes a hand
edit detectable (``Block.drifted``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ctrlops import schedule
from ctrlops.errors import CtrlopsError, InputError
from ctrlops.runner import layout
from ctrlops.runner.jobfile import validate_uid

BEGIN = "# BEGIN ctrlops"
END = "# END ctrlops"
HEADER = "# Managed by ctrlops: edits here are overwritten. Add your own jobs outside."
CHECKSUM = "# ctrlops sha256="

# What a line has the runner do: back the job up, or verify its backup.
START = "start"
VERIFY = "verify"
ACTIONS = (START, VERIFY)

# cron runs the command with /bin/sh and a minimal PATH (/usr/bin:/bin); setting PATH on
# the line itself is what makes a cron run find what a login shell finds. `%` would be
# turned into a newline by cron, so nothing on the line may contain one (none does: the
# schedule, CRON_PATH, actions and uids are all validated to plain characters).
_COMMAND = '"$HOME/' + layout.RUNNER + '" {action} {uid} cron >/dev/null 2>&1'
_ENTRY_RE = re.compile(
    r"(?P<expr>\S+ \S+ \S+ \S+ \S+) PATH=(?P<path>\S+) "
    + re.escape('"$HOME/' + layout.RUNNER + '" ')
    + r"(?P<action>start|verify) (?P<uid>\S+) cron >/dev/null 2>&1"
)


@dataclass(frozen=True)
class Entry:
    """One scheduled line: a job's uid, its (validated, normalised) cron expression, and
    ``action``: ``start`` a backup (the default, and all that blocks written before
    verification existed hold) or ``verify`` the backup against the source."""

    uid: str
    schedule: str
    action: str = START

    def __post_init__(self) -> None:
        validate_uid(self.uid)
        object.__setattr__(self, "schedule", schedule.validate(self.schedule))
        if self.action not in ACTIONS:
            raise InputError("action", f"{self.action!r} is neither 'start' nor 'verify'")

    def line(self) -> str:
        """Return the crontab line (without newline) that has cron run this action."""
        command = _COMMAND.format(action=self.action, uid=self.uid)
        return f"{self.schedule} PATH={layout.CRON_PATH} {command}"


@dataclass(frozen=True)
class Block:
    """The managed block as found in a crontab.

    ``problems`` says what does not look as ctrlops wrote it (empty when intact);
    ``entries`` are the job lines that could still be read.
    """

    entries: tuple[Entry, ...]
    problems: tuple[str, ...] = ()

    @property
    def drifted(self) -> bool:
        """True when the block was changed by hand or its markers are broken."""
        return bool(self.problems)


def _digest(lines: Iterable[str]) -> str:
    return hashlib.sha256("".join(f"{line}\n" for line in lines).encode()).hexdigest()


def render_block(entries: Iterable[Entry]) -> str:
    """Return the managed block for ``entries`` ("" when there are none, i.e. remove it).

    Entries are sorted by uid (a job's backup line before its verify line), so the same
    jobs always give the same bytes and a deploy can tell "unchanged" by comparing text;
    a block of backup lines only is byte for byte what earlier versions wrote. Raises
    InputError("job") for a uid scheduled twice for the same action.
    """
    ordered = sorted(entries, key=lambda e: (e.uid, ACTIONS.index(e.action)))
    if not ordered:
        return ""
    keys = [(e.uid, e.action) for e in ordered]
    if len(set(keys)) != len(keys):
        raise InputError("job", "the same job uid is scheduled twice")
    body = [HEADER, *(e.line() for e in ordered)]
    return "\n".join([BEGIN, *body, CHECKSUM + _digest(body), END]) + "\n"


def _lines(text: str) -> list[str]:
    # Only "\n" ends a line for cron; str.splitlines() would also split on form feeds
    # and other separators a user's comment may hold, and misplace the markers.
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _bare(line: str) -> str:
    return line.rstrip("\r\n")


def _spans(lines: list[str]) -> tuple[list[tuple[int, int]], list[str]]:
    """Return the (begin, end) index pairs of well-formed blocks, and marker problems."""
    spans: list[tuple[int, int]] = []
    problems: list[str] = []
    begin: int | None = None
    for index, line in enumerate(lines):
        bare = _bare(line)
        if bare == BEGIN:
            if begin is not None:
                problems.append(f"line {begin + 1}: BEGIN without END")
            begin = index
        elif bare == END:
            if begin is None:
                problems.append(f"line {index + 1}: END without BEGIN")
            else:
                spans.append((begin, index))
                begin = None
    if begin is not None:
        problems.append(f"line {begin + 1}: BEGIN without END")
    if len(spans) > 1:
        problems.append(f"{len(spans)} ctrlops blocks instead of one")
    return spans, problems


def parse_block(crontab_text: str) -> Block | None:
    """Return the managed block in ``crontab_text``, or None when there is no marker at all.

    Duplicated or misordered markers, unreadable lines, a missing or wrong checksum all
    make the block ``drifted``; entries are read from every well-formed block.
    """
    lines = _lines(crontab_text)
    spans, problems = _spans(lines)
    if not spans and not problems:
        return None
    entries: list[Entry] = []
    for begin, end in spans:
        body = [_bare(line) for line in lines[begin + 1 : end]]
        sums = [line for line in body if line.startswith(CHECKSUM)]
        rest = [line for line in body if not line.startswith(CHECKSUM)]
        if len(sums) != 1 or body[-1:] != sums:
            problems.append("checksum line missing or moved")
        elif sums[0] != CHECKSUM + _digest(rest):
            problems.append("lines were changed by hand (checksum mismatch)")
        for line in rest:
            if line.startswith("#"):
                continue
            found = _ENTRY_RE.fullmatch(line)
            if not found:
                problems.append(f"not a ctrlops job line: {line!r}")
                continue
            try:
                entries.append(Entry(found["uid"], found["expr"], found["action"]))
            except InputError as exc:
                problems.append(f"bad job line {line!r}: {exc.reason}")
    return Block(tuple(entries), tuple(problems))


def replace_block(crontab_text: str, block: str) -> str:
    """Return ``crontab_text`` with the managed block replaced by ``block``.

    Every byte outside the old block is kept. With no old block, ``block`` is appended
    (after a newline if the text lacked a final one, so the user's last line stays a
    line); an empty ``block`` removes the old one. Several well-formed blocks collapse
    into one at the place of the first.

    Raises CtrlopsError (category ``config_error``) when a marker has no partner: where
    the block ends is then a guess, and a wrong guess would delete the user's lines or
    leave a deleted job scheduled.
    """
    if block and not (block.startswith(BEGIN + "\n") and block.endswith(END + "\n")):
        raise ValueError("block must come from render_block()")
    lines = _lines(crontab_text)
    spans, problems = _spans(lines)
    broken = [p for p in problems if "without" in p]
    if broken:
        raise CtrlopsError(
            "the ctrlops block in the crontab is damaged: " + "; ".join(broken),
            "run `crontab -e` and delete the stray '# BEGIN ctrlops' / '# END ctrlops' line",
            category="config_error",
        )
    if not spans:
        if not block:
            return crontab_text
        glue = "\n" if crontab_text and not crontab_text.endswith("\n") else ""
        return crontab_text + glue + block
    out: list[str] = []
    previous = 0
    for number, (begin, end) in enumerate(spans):
        out.extend(lines[previous:begin])
        if number == 0:
            out.append(block)
        previous = end + 1
    out.extend(lines[previous:])
    return "".join(out)
