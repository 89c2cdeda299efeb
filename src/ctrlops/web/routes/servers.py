"""Servers: the add form, the Backup tab, its banners and their one-click fixes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from ctrlops.errors import CtrlopsError
from ctrlops.server.spec import parse_spec
from ctrlops.services import destinations, overview, servers, sync
from ctrlops.services.health import apply_fix
from ctrlops.web.render import field_errors, render
from ctrlops.web.routes.events import hurry

router = APIRouter()


class ServerForm(BaseModel):
    """The add-server form as posted: text only, so :func:`parse_spec` names a bad field.

    Declared (rather than read from ``request.form()``) so the app's OpenAPI schema
    describes it and the schema-driven tests post it.
    """

    name: str = ""
    host: str = ""
    port: str = ""
    user: str = ""
    key: str = ""
    jump: str = ""
    local: str = ""  # the checkbox: "on" when ticked


FIELDS = tuple(ServerForm.model_fields)


@router.get("/servers/new")
async def new(request: Request) -> Response:
    return render(request, "server_new.html", {"form": {}, "errors": {}})


@router.post("/servers")
async def add(request: Request, posted: Annotated[ServerForm, Form()]) -> Response:
    form = {k: v.strip() for k, v in posted.model_dump().items()}
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
    hurry(request, name)  # the rows show the store; the next sync brings them up to date
    return render(request, "server.html", context)


@router.get("/servers/{name}/banners")
async def banners(
    request: Request, name: str, cached: bool = False, compact: bool = False
) -> Response:
    """The server's banners: from a check made now, or (``cached``) the last one kept.

    ``compact``: an all-clear server is one link (the overview's list of healthy servers).
    """
    servers.get(name)
    check = sync.last_check(name) if cached else None
    if check is None:
        check = await servers.check(name)
    context = {"name": name, "check": check, "compact": compact}
    return render(request, "partials/banners.html", context)


@router.post("/servers/{name}/fix/{action}")
async def fix(request: Request, name: str, action: str) -> Response:
    result = await apply_fix(name, action)
    hurry(request, name)
    context = {"name": name, "check": result["check"], "fixed": result}
    return render(request, "partials/banners.html", context)
