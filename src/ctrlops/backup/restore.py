"""Restore and verify, the pure half: input checks, the point-in-time plan, rclone argv.

Objects live at ``<root>/current/<absolute source path>``; in mirror mode a run moves what
it deletes or overwrites to ``<root>/versions/<RUN_ID>/<absolute source path>`` (RUN_ID is
``YYYYMMDDTHHMMSSZ-pid``, the run's start in UTC). Nothing here does I/O.

**The point-in-time rule** (:func:`plan`). For a time T, the runs *after T* are the runs
that started after T; a run that started at or before T counts as done by T. A file's
copy under ``versions/R`` is exactly what the destination held for it just before run R
changed it. So, for every path:

1. if some run after T saved the path under ``versions/R``, the copy from the *oldest*
   such R is the content at T (the first change after T saved the state at T; later runs
   saved later states), and it beats ``current/``;
2. otherwise the path was not touched by any run after T, and ``current/`` holds the
   content at T -- unless the object was *created* after T.

What the layout cannot say exactly is when a path first appeared: nothing records
creations. Two facts from the object listing stand in for it: the upload time (S3
``Last-Modified``, rclone's ``btime``) and the source file's modification time (rclone's
``mtime`` metadata, kept when mirror mode moves a copy to ``versions/``). A ``current/``
object with no saved copy after T is left out when it was uploaded after T *and* its
file was modified after T; a saved copy chosen by rule 1 is left out when its file was
modified after T (it was created after T and changed again before now). Consequences,
reported as ``excluded`` so a user can restore them by hand: a file that existed at T and
was only *touched* after T (same content, new mtime) is also left out; a file created
after T with an old mtime (``cp -p``, ``tar x``) is restored. Deleted and overwritten files
are always restored exactly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ctrlops.errors import InputError

Argv = tuple[str, ...]

RUN_ID_RE = re.compile(r"([0-9]{8}T[0-9]{6}Z)-([0-9]+)")
CURRENT = "current"
VERSIONS = "versions"
FIRST_N = 20  # paths shown per category; the counts are always complete

_BAD_CHARS = ("\n", "\r", "\x00")


# ---- input ------------------------------------------------------------------------------


def parse_at(text: str) -> datetime:
    """Return ``text`` (ISO 8601 with ``Z`` or an offset) as an aware UTC datetime.

    Raises ``InputError("--at")`` for anything else, including a time without a zone: the
    server's, the control plane's and the user's zones may all differ, so it is not guessed.
    """
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in "zZ" else raw)
    except ValueError:
        raise InputError(
            "--at", f"{text!r} is not an ISO 8601 time", "e.g. 2025-03-01T14:30:00Z"
        ) from None
    if value.tzinfo is None:
        raise InputError(
            "--at",
            f"{text!r} has no time zone",
            "add Z for UTC or an offset such as +02:00, e.g. 2025-03-01T14:30:00Z",
        )
    return value.astimezone(UTC)


def run_started(run_id: str) -> datetime:
    """Return the start time a run id carries; raises ValueError for a malformed id."""
    m = RUN_ID_RE.fullmatch(run_id)
    if not m:
        raise ValueError(f"not a run id: {run_id!r}")
    return datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def run_key(run_id: str) -> tuple[datetime, int]:
    """Sort key for run ids: start time, then pid (ids of one second differ by pid)."""
    m = RUN_ID_RE.fullmatch(run_id)
    if not m:
        raise ValueError(f"not a run id: {run_id!r}")
    return run_started(run_id), int(m.group(2))


def validate_run_id(text: str) -> str:
    """Return ``text``; raises ``InputError("--run")`` unless it looks like a run id."""
    if not RUN_ID_RE.fullmatch(text):
        raise InputError("--run", f"{text!r} is not a run id", "see `ctrlops job status NAME`")
    return text


def _clean(field_name: str, path: str) -> str:
    """Return absolute ``path`` normalised; InputError for relative, ``..`` or line breaks."""
    if any(c in path for c in _BAD_CHARS):
        raise InputError(field_name, "contains a line break or NUL")
    if not path.startswith("/"):
        raise InputError(field_name, f"{path!r} is not an absolute path", "start it with /")
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise InputError(field_name, f"{path!r} contains '.' or '..'", "give the real path")
    return "/" + "/".join(parts)


def validate_target(to: str) -> str:
    """Return the normalised ``--to`` directory; raises ``InputError("--to")``."""
    return _clean("--to", to)


def is_under(path: str, root: str) -> bool:
    """True when absolute ``path`` is ``root`` or inside it."""
    return root == "/" or path == root or path.startswith(root + "/")


def validate_paths(paths: Iterable[str], sources: Sequence[str]) -> tuple[str, ...]:
    """Return the roots to restore: the ``--path`` values, or every source when none.

    Each path must be absolute, without ``..``, and inside one of the job's ``sources``;
    a path inside another given path is dropped. Raises ``InputError("--path")``.
    """
    given = [_clean("--path", p) for p in paths]
    for p in given:
        if not any(is_under(p, s) for s in sources):
            raise InputError(
                "--path",
                f"{p!r} is not inside any source of the job",
                "sources: " + ", ".join(sources),
            )
    roots = sorted(set(given or sources))
    return tuple(r for r in roots if not any(o != r and is_under(r, o) for o in roots))


# ---- listings and the plan ----------------------------------------------------------------


@dataclass(frozen=True)
class Obj:
    """One object: ``path`` relative to its origin (an absolute path without the ``/``)."""

    path: str
    size: int
    mtime: datetime | None = None  # the source file's modification time
    uploaded: datetime | None = None  # when the object was written to the bucket


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        # Go prints nanoseconds; Python 3.11 reads at most microseconds.
        m = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", value)
        if not m:
            return None
        frac = (m.group(2) or "")[:7]
        zone = "+00:00" if m.group(3) == "Z" else m.group(3)
        t = datetime.fromisoformat(m.group(1) + frac + zone)
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)


def parse_listing(text: str) -> list[Obj]:
    """Return the files in ``rclone lsjson -R --files-only [-M]`` output.

    Raises ValueError when ``text`` is not such a listing.
    """
    items = json.loads(text or "[]")
    if not isinstance(items, list):
        raise ValueError("an lsjson listing is a JSON array")
    out = []
    for item in items:
        if not isinstance(item, dict) or item.get("IsDir"):
            continue
        meta = item.get("Metadata") or {}
        out.append(
            Obj(
                path=str(item["Path"]),
                size=int(item.get("Size") or 0),
                mtime=_time(meta.get("mtime") or item.get("ModTime")),
                uploaded=_time(meta.get("btime")),
            )
        )
    return out


def parse_run_dirs(text: str) -> list[str]:
    """Return the run ids among ``rclone lsf --dirs-only`` lines, oldest first."""
    ids = {line.strip().rstrip("/") for line in text.splitlines()}
    return sorted((i for i in ids if RUN_ID_RE.fullmatch(i)), key=run_key)


@dataclass(frozen=True)
class Cut:
    """A point in time: ``after`` are the version runs to overlay, oldest first."""

    at: datetime
    after: tuple[str, ...]
    run: str | None = None


def cut_at(at: datetime, run_ids: Iterable[str]) -> Cut:
    """Return the cut for ``--at``: runs that started after ``at`` (see the module doc)."""
    after = sorted((r for r in set(run_ids) if run_started(r) > at), key=run_key)
    return Cut(at, tuple(after))


def cut_after_run(run_id: str, run_ids: Iterable[str], finished: datetime | None) -> Cut:
    """Return the cut for ``--run ID``: the tree as that run left it.

    Runs after it in id order are undone; "created after" is judged against the run's
    finish when known (its own uploads belong to it), else its start.
    """
    key = run_key(run_id)
    after = sorted((r for r in set(run_ids) if run_key(r) > key), key=run_key)
    return Cut(finished or run_started(run_id), tuple(after), run_id)


@dataclass
class Plan:
    """What to copy: ``picks`` maps an origin (``current``, ``versions/<id>``) to objects."""

    picks: dict[str, list[Obj]] = field(default_factory=dict)
    excluded: list[str] = field(default_factory=list)  # created after the cut, left out
    unlistable: list[str] = field(default_factory=list)  # names with line breaks

    @property
    def objects(self) -> list[Obj]:
        return [o for objs in self.picks.values() for o in objs]


def _after(t: datetime | None, cut: datetime) -> bool:
    return t is not None and t > cut


def plan(
    current: Iterable[Obj],
    versions: Mapping[str, Iterable[Obj]],
    roots: Sequence[str],
    cut: Cut | None,
) -> Plan:
    """Return which copy of each path under ``roots`` to restore, by the module's rule.

    ``versions`` maps run ids to their saved objects; only runs in ``cut.after`` are used.
    Without a cut, ``current/`` is restored as it is.
    """
    chosen: dict[str, tuple[str, Obj]] = {}
    result = Plan()
    if cut is not None:
        for run in cut.after:  # oldest first: the first saved copy after T wins
            for obj in versions.get(run, ()):
                if obj.path not in chosen and _wanted(obj.path, roots):
                    chosen[obj.path] = (f"{VERSIONS}/{run}", obj)
    for obj in current:
        if obj.path not in chosen and _wanted(obj.path, roots):
            chosen[obj.path] = (CURRENT, obj)
    for path in sorted(chosen):
        origin, obj = chosen[path]
        if cut is not None:
            new = (
                _after(obj.uploaded, cut.at) and _after(obj.mtime, cut.at)
                if origin == CURRENT
                else _after(obj.mtime, cut.at)
            )
            if new:
                result.excluded.append("/" + path)
                continue
        if any(c in path for c in _BAD_CHARS):
            result.unlistable.append("/" + path)
            continue
        result.picks.setdefault(origin, []).append(obj)
    return result


def _wanted(path: str, roots: Sequence[str]) -> bool:
    return any(is_under("/" + path, r) for r in roots)


def files_from(objs: Iterable[Obj]) -> bytes:
    """Return the ``--files-from-raw`` list for ``objs`` (verbatim, one per line)."""
    return "".join(o.path + "\n" for o in objs).encode()


def target_path(to: str, path: str) -> str:
    """Return where object ``path`` lands under the ``--to`` directory."""
    return to.rstrip("/") + "/" + path


# ---- rclone argv --------------------------------------------------------------------------


def _flags(config: str) -> Argv:
    if not config.startswith("/"):
        raise ValueError("config must be an absolute path")
    # Connection bounds only: a restore may run for hours, but a dead endpoint must end
    # in an error line rather than a hang.
    return ("--config", config, "--contimeout", "20s", "--timeout", "120s",
            "--ask-password=false")  # fmt: skip


def _remote(path: str) -> str:
    name, sep, _ = path.partition(":")
    if not sep or not name or name.startswith("-") or "/" in name:
        raise ValueError(f"not an rclone remote path: {path!r}")
    return path


def _local(path: str) -> str:
    # Absolute, so rclone can never read it as a remote ("a:b") or a flag.
    if not path.startswith("/"):
        raise ValueError(f"not an absolute local path: {path!r}")
    return path


def remote_root(bucket: str, prefix: str, *parts: str) -> str:
    """Return ``dest:<bucket>[/<prefix>][/parts]``, the job's objects in the ``dest`` remote."""
    return "dest:" + "/".join(p.strip("/") for p in (bucket, prefix, *parts) if p.strip("/"))


def list_objects(rclone: str, config: str, path: str, *, metadata: bool) -> Argv:
    """Return argv printing every file under ``path`` as JSON (with btime/mtime if asked)."""
    meta = ("--metadata",) if metadata else ()
    return (rclone, "lsjson", *_flags(config), "-R", "--files-only", "--fast-list", *meta,
            "--", _remote(path))  # fmt: skip


def list_folder(rclone: str, config: str, path: str) -> Argv:
    """Return argv printing the files and folders directly in folder ``path`` as JSON.

    The trailing ``/`` makes bucket remotes list ``path`` as a folder even where an object
    of that name exists (they would list that one file instead).
    """
    return (rclone, "lsjson", *_flags(config), "--", _remote(path.rstrip("/") + "/"))


def list_dirs(rclone: str, config: str, path: str) -> Argv:
    """Return argv printing the directories directly under ``path``, one per line."""
    return (rclone, "lsf", *_flags(config), "--dirs-only", "--", _remote(path))


def copy(rclone: str, config: str, src: str, dst: str, files: str, *, overwrite: bool) -> Argv:
    """Return argv copying the files listed in ``files`` from remote ``src`` to local ``dst``.

    Without ``overwrite`` a file that exists at ``dst`` is left alone (``--ignore-existing``).
    """
    keep = () if overwrite else ("--ignore-existing",)
    return (rclone, "copy", *_flags(config), "--files-from-raw", _local(files), *keep,
            "--use-json-log", "--log-level", "INFO", "--", _remote(src), _local(dst))  # fmt: skip


def check(
    rclone: str,
    config: str,
    src: str,
    dst: str,
    *,
    excludes: str | None = None,
    download: bool = False,
) -> Argv:
    """Return argv comparing local ``src`` with remote ``dst`` both ways (size and hash).

    It prints rclone's combined report on stdout; ``download`` compares the content itself,
    for providers without a hash in common with the local disk.
    """
    ex = ("--exclude-from", _local(excludes)) if excludes else ()
    dl = ("--download",) if download else ()
    return (rclone, "check", *_flags(config), "--combined", "-", *ex, *dl,
            "--", _local(src), _remote(dst))  # fmt: skip


# ---- verify report ------------------------------------------------------------------------

_COMBINED = {"+": "missing", "*": "differ", "-": "extra", "=": "matched", "!": "errors"}


@dataclass
class CheckReport:
    """rclone check's combined report, by category; paths are relative to the compared root."""

    paths: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in _COMBINED.values()})

    def add(self, other: CheckReport, prefix: str = "") -> None:
        for k, v in other.paths.items():
            self.paths[k].extend(prefix + p for p in v)

    def summary(self, first: int = FIRST_N) -> dict[str, dict[str, object]]:
        """Return ``{category: {"count", "paths"}}`` with the first ``first`` paths."""
        return {k: {"count": len(v), "paths": sorted(v)[:first]} for k, v in self.paths.items()}


def parse_combined(text: str) -> CheckReport:
    """Return the categories of ``rclone check --combined`` lines (``"+ path"`` ...)."""
    report = CheckReport()
    for line in text.splitlines():
        if len(line) > 2 and line[1] == " " and line[0] in _COMBINED:
            report.paths[_COMBINED[line[0]]].append(line[2:])
    return report
