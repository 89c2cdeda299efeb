"""The job files ``ctrlops-run`` reads: ``job.env``, ``sources`` and ``excludes`` (pure).

``job.env`` is sourced by the runner (``. job.env``), so every value is single-quoted: the
shell only ever assigns it, whatever bytes it holds. ``sources`` and ``excludes`` are
one-entry-per-line files, so an entry can never contain a line break.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ctrlops.errors import InputError

# Bump when job.env changes incompatibly; the runner refuses a format it does not know.
JOB_FORMAT = 1
# Each file of a restore test is downloaded to the server's disk: a bound keeps a typo
# (an extra zero) from filling it.
MAX_RESTORE_TEST_FILES = 1000

Mode = Literal["copy", "mirror"]

UID_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_REMOTE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")
_BUCKET_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
# rclone durations: "30s", "1m30s", "500ms".
_DURATION_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|ms|s|m|h))+")
_LINE_BREAKS = ("\n", "\r", "\x00")
# It goes into a curl config line between double quotes: none of  " \ or whitespace.
_PING_RE = re.compile(r"https?://[^\s\"\\]+")

# Flags the runner sets itself; a second copy would silently redirect the config, the log
# the control plane reads, or where mirror mode keeps overwritten files.
_RESERVED_FLAGS = (
    "--config",
    "--log-file",
    "--log-level",
    "--use-json-log",
    "--backup-dir",
    "--exclude-from",
    "--stats",
    "--stats-log-level",
    "--password-command",
    # These keep rclone's closing summary out of the log: the run would read as
    # log_incomplete (and --quiet refuses to start next to --log-level).
    "--quiet",
    "--syslog",
)


def _text(field: str, value: str) -> str:
    """Return ``value`` when it can be stored in a file the shell reads; else InputError."""
    if "\x00" in value:
        raise InputError(field, "contains a NUL byte")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(field, "is not valid UTF-8 text") from None
    return value


def _one_line(field: str, value: str) -> str:
    _text(field, value)
    if any(c in value for c in _LINE_BREAKS):
        raise InputError(field, "contains a line break (the file holds one entry per line)")
    return value


def validate_uid(uid: str) -> str:
    """Return ``uid``; raise InputError("uid") unless it is ``[a-z0-9-]``, 1-63 chars."""
    if not UID_RE.fullmatch(uid):
        raise InputError("uid", f"{uid!r} is not 1-63 of a-z, 0-9 and '-', starting alnum")
    return uid


def validate_source(path: str) -> str:
    """Return the normalised source path (no trailing slash except for ``/``).

    Raises InputError("source") for a relative path, a line break or NUL, or a ``.``/``..``
    component (the destination key mirrors the path and must not climb out of it).
    """
    _one_line("source", path)
    if not path.startswith("/"):
        raise InputError("source", f"{path!r} is not an absolute path", "start it with /")
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise InputError("source", f"{path!r} contains '.' or '..'", "give the real path")
    return "/" + "/".join(parts)


def validate_sources(paths: Iterable[str]) -> tuple[str, ...]:
    """Return the normalised sources; InputError("source") for none, a bad or a repeated one."""
    result = tuple(validate_source(p) for p in paths)
    if not result:
        raise InputError("source", "at least one source path is needed")
    if len(set(result)) != len(result):
        raise InputError("source", "the same path is given twice")
    return result


def validate_exclude(pattern: str) -> str:
    """Return ``pattern``; raise InputError("exclude") for one rclone would misread.

    rclone's ``--exclude-from`` strips blanks and skips lines starting with ``#`` or ``;``
    as comments, so such a pattern would be silently dropped: refused instead.
    """
    _one_line("exclude", pattern)
    if not pattern.strip():
        raise InputError("exclude", "is empty")
    if pattern != pattern.strip():
        raise InputError("exclude", f"{pattern!r} starts or ends with blanks rclone ignores")
    if pattern[0] in "#;":
        raise InputError("exclude", f"{pattern!r} would be read as a comment by rclone")
    return pattern


def validate_excludes(patterns: Iterable[str]) -> tuple[str, ...]:
    """Return the patterns; raise InputError("exclude") for the first bad one."""
    return tuple(validate_exclude(p) for p in patterns)


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` without leading/trailing slashes ("" for the bucket root).

    Raises InputError("prefix") for line breaks, NUL, empty or ``.``/``..`` segments.
    """
    _one_line("prefix", prefix)
    stripped = prefix.strip("/")
    if stripped and any(p in ("", ".", "..") for p in stripped.split("/")):
        raise InputError("prefix", f"{prefix!r} has an empty, '.' or '..' segment")
    return stripped


def validate_extra_flag(flag: str) -> str:
    """Return ``flag``; raise InputError("extra_flags") unless it is one ``--long`` flag."""
    _one_line("extra_flags", flag)
    if not flag.startswith("--") or len(flag) < 3:
        raise InputError("extra_flags", f"{flag!r} is not a --long-flag")
    name = flag.split("=", 1)[0]
    if name in _RESERVED_FLAGS:
        raise InputError("extra_flags", f"{name} is set by the runner itself")
    return flag


@dataclass(frozen=True)
class JobFiles:
    """Everything the runner needs to know about one job (credentials excepted).

    Constructing one validates it: InputError names the first bad field.
    """

    uid: str
    name: str
    mode: Mode
    bucket: str
    sources: tuple[str, ...]
    remote: str = "dest"
    prefix: str = ""
    excludes: tuple[str, ...] = ()
    bwlimit: str = ""
    transfers: int = 4
    checkers: int = 8
    stats_interval: str = "30s"
    fast_list: bool = False
    extra_flags: tuple[str, ...] = ()
    keep_runs: int = 200
    ping_url: str = ""
    keep_versions_days: int = 0  # 0: keep every version
    # `ctrlops-run verify`: compare contents by download (providers without a usable hash),
    # and how many random files each verification reads back (0: no restore test).
    verify_download: bool = False
    restore_test_files: int = 0
    keep_verifies: int = 30

    def __post_init__(self) -> None:
        # Normalised values replace the given ones, so the files always hold the
        # canonical form (a frozen dataclass needs object.__setattr__ for that).
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        validate_uid(self.uid)
        _text("name", self.name)
        if self.mode not in ("copy", "mirror"):
            raise InputError("mode", f"{self.mode!r} is neither 'copy' nor 'mirror'")
        if not _REMOTE_RE.fullmatch(self.remote):
            raise InputError("remote", f"{self.remote!r} is not a plain rclone remote name")
        if not _BUCKET_RE.fullmatch(self.bucket):
            raise InputError("bucket", f"{self.bucket!r} is not a bucket name")
        put("prefix", validate_prefix(self.prefix))
        put("sources", validate_sources(self.sources))
        put("excludes", validate_excludes(self.excludes))
        _one_line("bwlimit", self.bwlimit)
        for field, number in (("transfers", self.transfers), ("checkers", self.checkers)):
            if not 1 <= number <= 1024:
                raise InputError(field, f"{number} is not between 1 and 1024")
        if not _DURATION_RE.fullmatch(self.stats_interval):
            raise InputError("stats_interval", f"{self.stats_interval!r} is not like 30s")
        put("extra_flags", tuple(validate_extra_flag(f) for f in self.extra_flags))
        if self.keep_runs < 0:
            raise InputError("keep_runs", "cannot be negative (0 keeps every run)")
        if not 0 <= self.restore_test_files <= MAX_RESTORE_TEST_FILES:
            raise InputError(
                "--restore-test-files",
                f"must be a whole number from 0 (off) to {MAX_RESTORE_TEST_FILES}",
            )
        if self.keep_verifies < 0:
            raise InputError("keep_verifies", "cannot be negative (0 keeps every record)")
        if not 0 <= self.keep_versions_days <= 36500:
            raise InputError("--keep-days", "must be between 0 (keep all) and 36500")
        if self.ping_url and not _PING_RE.fullmatch(self.ping_url):
            raise InputError(
                "--ping-url",
                "must be an http(s) URL without spaces or quotes",
                "e.g. https://hc-ping.com/<uuid>",
            )


def quote(value: str) -> str:
    """Return ``value`` as one single-quoted POSIX shell word.

    Inside single quotes nothing is special; a quote itself is closed, escaped and
    reopened. Raises InputError("value") for NUL, which no shell variable can hold.
    """
    _text("value", value)
    return "'" + value.replace("'", "'\\''") + "'"


def render_job_env(job: JobFiles) -> str:
    """Return the text of ``job.env``: one ``KEY='value'`` line per setting."""
    values = {
        "JOB_FORMAT": str(JOB_FORMAT),
        "JOB_UID": job.uid,
        "JOB_NAME": job.name,
        "MODE": job.mode,
        "REMOTE": job.remote,
        "BUCKET": job.bucket,
        "PREFIX": job.prefix,
        "BWLIMIT": job.bwlimit,
        "TRANSFERS": str(job.transfers),
        "CHECKERS": str(job.checkers),
        "STATS_INTERVAL": job.stats_interval,
        "FAST_LIST": "1" if job.fast_list else "0",
        # One flag per line: the runner splits on newlines only, never evaluates.
        "EXTRA_FLAGS": "\n".join(job.extra_flags),
        "RUNS_KEEP": str(job.keep_runs),
        "PING_URL": job.ping_url,
        "KEEP_VERSIONS_DAYS": str(job.keep_versions_days),
        # Read by `ctrlops-run verify` only; a runner without it ignores them.
        "VERIFY_DOWNLOAD": "1" if job.verify_download else "0",
        "RESTORE_TEST_FILES": str(job.restore_test_files),
        "VERIFIES_KEEP": str(job.keep_verifies),
    }
    head = "# Written by ctrlops; sourced by ctrlops-run. Edits are overwritten.\n"
    return head + "".join(f"{key}={quote(value)}\n" for key, value in values.items())


def render_sources(job: JobFiles) -> str:
    """Return the text of ``sources``: one absolute path per line."""
    return "".join(f"{path}\n" for path in job.sources)


def render_excludes(job: JobFiles) -> str:
    """Return the text of ``excludes`` (rclone filter file, one glob per line; may be "")."""
    return "".join(f"{pattern}\n" for pattern in job.excludes)
