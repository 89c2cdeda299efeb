"""Browse a job's backup one folder at a time, or search it by name, as the job sees it.

The destination keeps a job's files under their absolute source paths (``current/srv/www/…``)
and may hold other jobs' files beside them (two jobs can share a bucket and prefix), so the
browser shows only what lies inside the job's sources, plus the folders leading to them.
The first view is the deepest folder holding every source, so the sources themselves are
the first things a user can tick.

Like a restore, rclone runs on the job's server and reads its remote from the restore's
private 0600 workspace: the secret is never on a command line and no file passes through
the control plane. A point in time (``run``/``at``, mirror mode) lists the tree exactly as
that restore would bring it back: the same plan decides (:func:`ctrlops.services.restore._tree`).
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ctrlops.backup import restore as rp
from ctrlops.errors import CtrlopsError, InputError
from ctrlops.runner.jobfile import JobFiles
from ctrlops.services import destinations, jobs, servers
from ctrlops.services import restore as svc

SEARCH_LIMIT = 500  # hits shown; a search that finds more says it was cut
SEARCH_MAX_CHARS = 200


@dataclass(frozen=True)
class Entry:
    """One file or folder of the listing; ``path`` is absolute, as on the source server."""

    path: str
    is_dir: bool
    size: int | None = None  # folders: None (a folder's size would need a full listing)
    modified: datetime | None = None  # the source file's modification time

    def as_dict(self, sources: Sequence[str]) -> dict[str, Any]:
        return {
            "name": posixpath.basename(self.path),
            "path": self.path,
            "is_dir": self.is_dir,
            "size": self.size,
            "modified": self.modified.isoformat() if self.modified else None,
            "restorable": restorable(self.path, sources),
        }


# ---- pure: paths ----------------------------------------------------------------------------


def top(sources: Sequence[str]) -> str:
    """Return the deepest folder that holds every source (where the browser opens)."""
    return posixpath.commonpath([posixpath.dirname(s.rstrip("/")) or "/" for s in sources])


def restorable(path: str, sources: Sequence[str]) -> bool:
    """True when ``path`` is a source or inside one (what a restore accepts)."""
    return any(rp.is_under(path, s) for s in sources)


def visible(path: str, sources: Sequence[str]) -> bool:
    """True when ``path`` is inside a source or a folder on the way to one."""
    return any(rp.is_under(path, s) or rp.is_under(s, path) for s in sources)


def folder_of(job: str, path: str, sources: Sequence[str]) -> str:
    """Return the folder ``path`` names, normalised; ``""`` is the job's :func:`top`.

    Raises ``InputError("path")`` for a relative path, ``.``/``..``, a line break, or a
    folder outside the job's sources.
    """
    if not path.strip():
        return top(sources)
    folder = rp._clean("path", path)
    if not visible(folder, sources):
        raise InputError(
            "path",
            f"{folder!r} is not inside any source of job {job}",
            "sources: " + ", ".join(sources),
        )
    return folder


def search_term(text: str | None) -> str | None:
    """Return the search text stripped, None for none; raises ``InputError("search")``."""
    term = (text or "").strip()
    if any(c in term for c in ("\n", "\r", "\x00")):
        raise InputError("search", "contains a line break or NUL")
    if len(term) > SEARCH_MAX_CHARS:
        raise InputError("search", f"longer than {SEARCH_MAX_CHARS} characters")
    return term or None


def roots_in(folder: str, sources: Sequence[str]) -> tuple[str, ...]:
    """Return the parts of the job's sources that lie in ``folder`` (the plan's roots)."""
    inside = [s for s in sources if rp.is_under(s, folder)]
    return tuple(inside) if inside else (folder,)


def _join(folder: str, name: str) -> str:
    return folder.rstrip("/") + "/" + name


# ---- pure: listings -------------------------------------------------------------------------


def parse_folder(text: str, folder: str, sources: Sequence[str]) -> list[Entry]:
    """Return the visible entries of ``rclone lsjson`` output for one folder.

    Raises ValueError when ``text`` is not such a listing.
    """
    items = json.loads(text or "[]")
    if not isinstance(items, list):
        raise ValueError("an lsjson listing is a JSON array")
    dirs = [Entry(_join(folder, str(i["Path"])), True) for i in items
            if isinstance(i, dict) and i.get("IsDir")]  # fmt: skip
    files = [Entry(_join(folder, o.path), False, o.size, o.mtime) for o in rp.parse_listing(text)]
    return _sorted(e for e in dirs + files if visible(e.path, sources))


def fold(objs: Iterable[rp.Obj], folder: str) -> list[Entry]:
    """Return the files directly in ``folder`` and its subfolders, from a recursive list.

    ``objs`` carry paths relative to ``/`` (as the plan returns them).
    """
    prefix = folder.strip("/") + "/" if folder.strip("/") else ""
    dirs: set[str] = set()
    out: list[Entry] = []
    for o in objs:
        if not o.path.startswith(prefix):
            continue
        head, sep, _ = o.path[len(prefix) :].partition("/")
        if sep:
            dirs.add(head)
        else:
            out.append(Entry(_join(folder, head), False, o.size, o.mtime))
    return _sorted([*out, *(Entry(_join(folder, d), True) for d in dirs)])


def find(
    objs: Iterable[rp.Obj], folder: str, term: str, limit: int = SEARCH_LIMIT
) -> tuple[list[Entry], int]:
    """Return files and folders under ``folder`` whose name contains ``term`` (any case).

    Returns the first ``limit`` hits by path and how many there were in all.
    """
    prefix = folder.strip("/") + "/" if folder.strip("/") else ""
    needle = term.casefold()
    seen: set[str] = set()
    hits: list[Entry] = []
    for o in objs:
        if not o.path.startswith(prefix):
            continue
        parts = o.path[len(prefix) :].split("/")
        for i in range(1, len(parts)):  # the folders on the way, each once
            rel = "/".join(parts[:i])
            if rel not in seen:
                seen.add(rel)
                if needle in parts[i - 1].casefold():
                    hits.append(Entry(_join(folder, rel), True))
        if needle in parts[-1].casefold():
            hits.append(Entry("/" + o.path, False, o.size, o.mtime))
    hits.sort(key=lambda e: e.path)
    return hits[:limit], len(hits)


def _sorted(entries: Iterable[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (not e.is_dir, e.path.casefold(), e.path))


# ---- the use case ---------------------------------------------------------------------------


async def listing(
    job: str,
    path: str = "",
    *,
    search: str | None = None,
    run: str | None = None,
    at: str | datetime | None = None,
) -> dict[str, Any]:
    """Return one folder of ``job``'s backup, or the names under it matching ``search``.

    ``path`` is an absolute folder as on the source server (``""``: the folder holding
    all sources); ``run``/``at`` show a mirror-mode job's tree at that point, as a restore
    with the same arguments would bring it back. Returns ``{"job", "server", "home",
    "path", "top", "sources", "point": {"kind", "at", "run"}, "search", "entries":
    [{"name", "path", "is_dir", "size", "modified", "restorable"}], "total",
    "truncated", "limit", "excluded", "notes"}``; ``home`` is the server user's home.

    Raises InputError (``path``, ``search``, ``--run``, ``--at``) for bad input,
    NotFoundError for an unknown job, CtrlopsError when the listing fails.
    """
    info = jobs.get(job)
    folder = folder_of(job, path, info.sources)
    term = search_term(search)
    run_id, when = svc._point(info, run, at)
    spec, secret = destinations.load(info.destination)
    files = jobs._files(info, spec.bucket, spec.prefix)
    notes: list[str] = []
    records = await svc._job_records(info, notes) if run_id else None
    excluded, total = 0, 0
    above = rp.is_under(top(info.sources), folder)  # the first view or a folder above it
    cut: rp.Cut | None = None
    async with (
        servers.open_remote(info.server) as remote,
        svc._workspace(remote, spec, secret) as w,
    ):
        home = w.home
        if run_id or when or term:
            # The whole subtree through the restore's own plan: what a restore would bring.
            roots = roots_in(folder, info.sources)
            plan, cut = await svc._tree(
                w, info, files, roots, run_id, when, records, notes, under=folder
            )
            excluded = len(plan.excluded)
            if plan.unlistable:
                notes.append(f"{len(plan.unlistable)} files with a line break in the name "
                             "are not shown (a restore cannot take them either)")  # fmt: skip
            objs = sorted(plan.objects, key=lambda o: o.path)
            if term:
                entries, total = find(objs, folder, term, SEARCH_LIMIT)
            else:
                entries = fold(objs, folder)
            exists = bool(entries) or above
        else:
            entries = await _folder(w, info, files, folder)
            exists = bool(entries) or above
            if not exists and await _emptied(w, info, files, folder):
                exists = True
                notes.append("this folder holds no backed-up files any more")
    if term is None:
        total = len(entries)
        if not exists:
            raise InputError(
                "path",
                f"no folder {folder!r} in the backup of {job}" + (" at that time" if cut else ""),
                "pick a folder from the listing",
            )
    if excluded:
        notes.append(f"{excluded} files created after that time are not shown")
    return {
        "job": job,
        "server": info.server,
        "home": home,
        "path": folder,
        "top": top(info.sources),
        "sources": list(info.sources),
        "point": {
            "kind": "run" if run_id else "at" if when else "current",
            "at": cut.at.isoformat() if cut else None,
            "run": run_id,
        },
        "search": term,
        "entries": [e.as_dict(info.sources) for e in entries],
        "total": total,
        "truncated": total > len(entries),
        "limit": SEARCH_LIMIT,
        "excluded": excluded,
        "notes": notes,
    }


async def _folder(w: svc._Work, info: jobs.JobInfo, files: JobFiles, folder: str) -> list[Entry]:
    """One level of ``current/`` from rclone (no recursion: fast on a large backup)."""
    where = rp.remote_root(files.bucket, files.prefix, rp.CURRENT, folder.strip("/"))
    argv = rp.list_folder(w.rclone, w.config, where)
    result = await w.run(argv, timeout=svc.LIST_TIMEOUT)
    if not result.ok:
        raise svc._failed(f"listing {folder}", w.remote.name, info.destination, result, w.secret)
    try:
        return parse_folder(result.stdout, folder, info.sources)
    except (ValueError, KeyError, TypeError):
        raise CtrlopsError(
            f"rclone printed an unreadable listing of {folder}", "upgrade rclone on the server"
        ) from None


async def _emptied(w: svc._Work, info: jobs.JobInfo, files: JobFiles, folder: str) -> bool:
    """True when the parent lists ``folder``: S3 cannot tell an empty folder from a
    missing one, but some servers (SeaweedFS) keep a folder whose files were deleted."""
    parent = await _folder(w, info, files, posixpath.dirname(folder))
    return any(e.is_dir and e.path == folder for e in parent)
