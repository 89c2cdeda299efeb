"""Servers: the add form, the Backup tab, its banners and their one-click fixes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ctrlops.errors import CtrlopsError
from ctrlops.server.spec import parse_spec
from ctrlops.services import destinations, overview, servers
from ctrlops.services.health import apply_fix
from ctrlops.web.render import field_errors, render

router = APIRouter()

FIELDS = ("name", "host", "port", "user", "key", "jump", "local")


@router.get("/servers/new")
async def new(request: Request) -> Response:
    return render(request, "server_new.html", {"form": {}, "errors": {}})


@router.post("/servers")
async def add(request: Request) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items() if k != "csrf_token"}
    try:
        spec = parse_spec(
            name=form.get("name", ""),
            local=form.get("local") == "on",
            **{f: form[f] for f in ("host", "port", "user", "key", "jump") if form.get(f)},
        )
        servers.add(spec)
    except CtrlopsError as e:
        errors = field_errors(e, FIELDS)
        return render(request, "server_new.html", {"form": form, "errors": errors}, 422)
    return RedirectResponse(f"/servers/{spec.name}", status_code=303)


@router.get("/servers/{name}")
async def backup_tab(request: Request, name: str) -> Response:
    server = servers.get(name)
    context = {
        "server": server,
        "jobs": overview.job_rows(name),
        "has_dests": bool(destinations.list_all()),
    }
    return render(request, "server.html", context)


@router.get("/servers/{name}/banners")
async def banners(request: Request, name: str) -> Response:
    check = await servers.check(name)
    return render(request, "partials/banners.html", {"name": name, "check": check})


@router.post("/servers/{name}/fix/{action}")
async def fix(request: Request, name: str, action: str) -> Response:
    result = await apply_fix(name, action)
    context = {"name": name, "check": result["check"], "fixed": result}
    return render(request, "partials/banners.html", context)
