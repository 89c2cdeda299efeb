"""Jobs: the add form, a row (live while running), its details, Run Now, Kill, logs, AI."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from ctrlops import schedule
from ctrlops.errors import CtrlopsError
from ctrlops.services import destinations, jobs, overview, servers
from ctrlops.web.charts import run_chart
from ctrlops.web.render import field_errors, render
from ctrlops.web.routes.events import hurry

router = APIRouter()

FIELDS = ("name", "server", "source", "dest", "prefix", "schedule", "timezone", "exclude",
          "mode", "bwlimit")  # fmt: skip
LOG_PAGE_LINES = 400


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _form_context(form: dict[str, str], errors: dict[str, str]) -> dict[str, object]:
    return {
        "form": form,
        "errors": errors,
        "servers": servers.list_all(),
        "dests": destinations.list_all(),
    }


@router.get("/jobs/new")
async def new(request: Request, server: str = "") -> Response:
    form = {"server": server, "mode": "copy", "schedule": "0 2 * * *"}
    return render(request, "job_new.html", _form_context(form, {}))


@router.post("/jobs")
async def add(request: Request) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items() if k != "csrf_token"}
    try:
        info = jobs.spec(
            form.get("name", ""),
            server=form.get("server", ""),
            sources=_lines(form.get("source", "")),
            dest=form.get("dest", ""),
            prefix=form.get("prefix", ""),
            schedule_expr=form.get("schedule") or None,
            excludes=_lines(form.get("exclude", "")),
            mode=form.get("mode", "copy"),
            bwlimit=form.get("bwlimit") or None,
        )
        await jobs.add(info)
    except CtrlopsError as e:
        return render(request, "job_new.html", _form_context(form, field_errors(e, FIELDS)), 422)
    return RedirectResponse(f"/servers/{info.server}", status_code=303)


@router.get("/schedule/preview")
async def preview(
    request: Request, schedule_expr: str = Query("", alias="schedule"), server: str = ""
) -> Response:
    context: dict[str, object] = {"expr": schedule_expr}
    tz = "UTC"
    if server:
        with contextlib.suppress(CtrlopsError):  # an unknown server: preview in UTC
            tz = servers.get(server).facts.get("timezone") or "UTC"
    if schedule_expr.strip():
        try:
            context["words"] = schedule.describe(schedule_expr)
            context["runs"] = schedule.next_runs(schedule_expr, tz, datetime.now(UTC), 5)
        except CtrlopsError as e:
            context["error"] = e
    return render(request, "partials/schedule_preview.html", {**context, "tz": tz})


def _row(request: Request, name: str, view: str, error: CtrlopsError | None = None) -> Response:
    context = {"job": overview.job_row(name), "view": view, "error": error}
    response = render(request, "partials/job_row.html", context)
    response.headers["HX-Trigger"] = "job-refreshed"
    return response


@router.get("/jobs/{name}/row")
async def row(request: Request, name: str, view: str = "tab") -> Response:
    """The row as the store has it (re-fetched when the monitor says the job changed)."""
    return _row(request, name, view)


@router.post("/jobs/{name}/run")
async def run_now(request: Request, name: str) -> Response:
    return await _act(request, name, jobs.run_now)


@router.post("/jobs/{name}/kill")
async def kill(request: Request, name: str) -> Response:
    return await _act(request, name, jobs.kill)


async def _act(
    request: Request, name: str, action: Callable[[str], Awaitable[dict[str, Any]]]
) -> Response:
    """Run Now / Kill: act, then have the monitor follow the job's server closely."""
    server = jobs.get(name).server
    try:
        await action(name)
    except CtrlopsError as e:
        return _row(request, name, "tab", e)
    finally:
        hurry(request, server)
    return _row(request, name, "tab")


@router.get("/jobs/{name}/detail")
async def detail(request: Request, name: str) -> Response:
    info = jobs.get(name)
    runs = overview.history(name)
    context = {
        "info": info,
        "dest": destinations.show(info.destination),
        "runs": list(reversed(runs)),
        "chart": run_chart(runs),
    }
    return render(request, "partials/job_detail.html", context)


@router.get("/jobs/{name}/log")
async def log(request: Request, name: str, run: str | None = None) -> Response:
    result = await jobs.explain(name, run)
    lines = result["log_tail"].splitlines()
    context = {
        "name": name,
        "run": result["run"],
        "lines": lines[-LOG_PAGE_LINES:],
        "cut": max(0, len(lines) - LOG_PAGE_LINES),
    }
    return render(request, "partials/log.html", context)


@router.get("/jobs/{name}/ai")
async def ai_panel(request: Request, name: str, run: str) -> Response:
    """The offline diagnosis at once; the panel then asks the model by itself."""
    cached = overview.cached_run(name, run)
    context = {"name": name, "run_id": run, "diagnosis": cached.diagnosis if cached else None}
    return render(request, "partials/ai_panel.html", context)


@router.post("/jobs/{name}/ai")
async def ask_ai(request: Request, name: str, run: str) -> Response:
    result = await jobs.explain(name, run, ask_ai=True)
    return render(request, "partials/ai_answer.html", {"ai": result["ai"]})
