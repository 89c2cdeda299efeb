"""Login and logout of the single local admin."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ctrlops.web import security
from ctrlops.web.render import render

router = APIRouter()


@router.get("/login")
async def login_form(request: Request) -> Response:
    return render(request, "login.html")


@router.post("/login")
async def login(request: Request, password: Annotated[str, Form()] = "") -> Response:
    limiter: security.LoginLimiter = request.app.state.limiter
    client = request.client.host if request.client else "?"
    if limiter.blocked(client):
        error = "Too many failed logins; wait a minute and try again."
        return render(request, "login.html", {"error": error}, 429)
    # argon2 is slow on purpose; keep it off the event loop that serves everyone else.
    if not await asyncio.to_thread(security.check_password, password):
        limiter.failed(client)
        return render(request, "login.html", {"error": "Wrong password."}, 401)
    limiter.succeeded(client)
    # A fresh session on login: a token planted before it is worth nothing after it.
    request.session.clear()
    request.session["user"] = "admin"
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
