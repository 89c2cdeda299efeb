"""Browse & restore: a job's backup as folders, a name search, ticks, and Restore.

The picks live in the page, not on the server: every folder view is asked for with the
boxes ticked so far (``pick``) and renders them again, ticked, either in the table or in
the "Selected" list, so navigating and searching never drop one. The boxes belong to the
restore form through their ``form`` attribute, so no script is needed (the CSP allows none
inline, and htmx sends the form's associated inputs).
"""

from __future__ import annotations

import contextlib
import posixpath
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from ctrlops.errors import CtrlopsError, InputError, NotFoundError
from ctrlops.services import browse, jobs, overview, servers
from ctrlops.services import restore as service
from ctrlops.web.render import field_errors, render

router = APIRouter()

MAX_PICKS = 1000
FIELDS = ("to", "pick")  # an error about anything else is shown above the form


class RestoreForm(BaseModel):
    """The restore form as posted; declared so the app's OpenAPI schema describes it."""

    pick: list[str] = []
    to: str = ""
    overwrite: bool = False
    run: str = ""


def crumbs(path: str) -> list[dict[str, str]]:
    """Return the breadcrumbs of absolute folder ``path``: ``/``, then each folder."""
    out = [{"name": "/", "path": "/"}]
    parts = [p for p in path.split("/") if p]
    out += [{"name": p, "path": "/" + "/".join(parts[: i + 1])} for i, p in enumerate(parts)]
    return out


def default_target(home: str, job: str, now: datetime) -> str:
    """Return a fresh directory to restore into: ``~/ctrlops-restore/<job>-<time>``."""
    return posixpath.join(home or "/tmp", "ctrlops-restore", f"{job}-{now:%Y%m%d-%H%M%S}")  # noqa: S108


def _htmx(request: Request) -> bool:
    """True for an htmx swap; a history restore wants the whole page."""
    return bool(request.headers.get("hx-request")) and not request.headers.get(
        "hx-history-restore-request"
    )


def _status(request: Request, code: int) -> int:
    # htmx does not swap a 4xx answer: it gets 200 with the error shown where it belongs.
    return 200 if _htmx(request) else code


def _job(name: str) -> jobs.JobInfo:
    try:
        return jobs.get(name)
    except NotFoundError:
        raise HTTPException(404, f"no job named {name!r}") from None


def _picks(values: list[str]) -> list[str]:
    """Return the ticked paths, each once; raises ``InputError("pick")`` for too many."""
    if len(values) > MAX_PICKS:
        raise InputError("pick", f"more than {MAX_PICKS} files and folders ticked",
                         "restore their folder instead")  # fmt: skip
    return list(dict.fromkeys(v for v in values if v.strip()))


def _runs(info: jobs.JobInfo) -> list[Any]:
    """The runs a mirror-mode job can be browsed at, newest first (copy mode keeps none)."""
    if info.mode != "mirror":
        return []
    return [r for r in reversed(overview.history(info.name)) if r.state != "running"]


@router.get("/jobs/{name}/files")
async def files(
    request: Request,
    name: str,
    path: str = "",
    q: str = "",
    run: str = "",
    pick: Annotated[list[str], Query()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    """The browser: a folder (or search hits) of the job's backup with a box per entry."""
    info = _job(name)
    context: dict[str, Any] = {"info": info, "q": q, "run": run, "path": path, "error": None}
    picks = list(dict.fromkeys(p for p in pick[:MAX_PICKS] if p.strip()))
    status = 200
    try:
        _picks(pick)
        result = await browse.listing(name, path, search=q or None, run=run or None)
    except InputError as e:
        context.update(error=e, listing=None)
        status = _status(request, 422)
    except CtrlopsError as e:  # the operation failed (server, rclone): shown, not a bad request
        context.update(error=e, listing=None)
    else:
        context.update(listing=result, path=result["path"], crumbs=crumbs(result["path"]))
    shown = {e["path"] for e in (context["listing"] or {}).get("entries", [])}
    context.update(picks=picks, carried=[p for p in picks if p not in shown])
    if _htmx(request):
        return render(request, "partials/browse.html", context, status)
    home = context["listing"]["home"] if context["listing"] else ""
    if not home:
        with contextlib.suppress(CtrlopsError):
            home = str(servers.get(info.server).facts.get("home") or "")
    context.update(
        form={"to": default_target(home, name, datetime.now(UTC)), "overwrite": False},
        errors={},
        runs=_runs(info),
    )
    return render(request, "browse.html", context, status)


@router.post("/jobs/{name}/restore")
async def restore(request: Request, name: str, posted: Annotated[RestoreForm, Form()]) -> Response:
    """Restore the ticked paths into the target directory; answer with the form again,
    the result (or the error next to its field) inside."""
    info = _job(name)
    to = posted.to.strip()
    form = {"to": to, "overwrite": posted.overwrite}
    context: dict[str, Any] = {"info": info, "form": form, "run": posted.run, "errors": {}}
    try:
        picks = _picks(posted.pick)
        if not picks:
            raise InputError("pick", "nothing ticked", "tick the files and folders to restore")
        result = await service.restore(
            name,
            to=to,
            run_id=posted.run or None,
            paths=picks,
            overwrite=posted.overwrite,
        )
    except InputError as e:
        if isinstance(e, NotFoundError):  # e.g. the job's server was removed meanwhile
            context["failure"] = e
        elif e.field.lstrip("-") in ("path", "pick"):  # the service says --path
            context["errors"] = {"pick": e.reason + (f" ({e.fix})" if e.fix else "")}
        else:
            context["errors"] = field_errors(e, FIELDS)
        return render(request, "partials/restore_form.html", context, _status(request, 422))
    except CtrlopsError as e:
        context["failure"] = e
        return render(request, "partials/restore_form.html", context)
    context.update(result=result, picks=picks)
    return render(request, "partials/restore_form.html", context)
