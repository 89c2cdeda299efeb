"""The app factory: middleware (session, headers), static files, routes, error pages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from ctrlops.errors import CtrlopsError
from ctrlops.services import servers
from ctrlops.services.monitor import Monitor
from ctrlops.web import security
from ctrlops.web.deps import NotLoggedIn, require_user
from ctrlops.web.render import render
from ctrlops.web.routes import auth, destinations, events, jobs, metrics, overview
from ctrlops.web.routes import servers as server_routes

SESSION_HOURS = 12


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    task = None
    if isinstance(app.state.monitor, Monitor):
        task = asyncio.create_task(app.state.monitor.run())
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # The backup shells belong to this event loop; close them with it.
        await servers.close_all()


def create_app(*, https_only: bool = False, monitor: Monitor | None = None) -> FastAPI:
    """Return the web UI; the admin password is set from the environment on first start.

    ``monitor`` keeps the store in step with the fleet while the app runs (a default one
    when None); pass ``Monitor(interval=math.inf, busy_interval=math.inf)`` for an app
    that never syncs on its own.
    """
    security.ensure_admin()
    app = FastAPI(
        title="ctrlops", lifespan=_lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.monitor = monitor or Monitor()
    app.state.limiter = security.LoginLimiter()
    app.add_middleware(
        SessionMiddleware,
        secret_key=security.session_key(),
        session_cookie="ctrlops_session",
        max_age=SESSION_HOURS * 3600,
        same_site="strict",
        https_only=https_only,
    )
    app.add_middleware(security.SecurityHeaders)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    csrf = Depends(security.require_csrf)
    app.include_router(auth.router, dependencies=[csrf])
    app.include_router(metrics.router)  # its own auth: a bearer token, or a session
    private = [csrf, Depends(require_user)]
    for module in (overview, server_routes, jobs, destinations, events):
        app.include_router(module.router, dependencies=private)
    from ctrlops.web.routes import restore as restore_routes  # move up with the others

    app.include_router(restore_routes.router, dependencies=private)
    app.add_exception_handler(NotLoggedIn, _to_login)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(CtrlopsError, _ctrlops_error)
    app.add_exception_handler(RequestValidationError, _bad_request)
    return app


async def _to_login(request: Request, exc: Exception) -> Response:
    if request.headers.get("hx-request"):
        # htmx would swap a login page into a table cell; send the whole window there.
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    return RedirectResponse("/login", status_code=303)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if request.headers.get("hx-request"):
        return render(request, "partials/error.html", {"error": exc}, exc.status_code)
    return render(request, "error.html", {"code": exc.status_code, "detail": exc.detail},
                  exc.status_code)  # fmt: skip


async def _bad_request(request: Request, exc: Exception) -> Response:
    """A malformed query or form (``?page=x``): one line naming the field, not JSON."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = [str(part) for part in first.get("loc", ()) if part not in ("query", "body", "path")]
    detail = f"{'.'.join(where) or 'request'}: {str(first.get('msg', 'is not valid')).lower()}"
    if request.headers.get("hx-request"):
        return render(request, "partials/error.html", {"error": {"detail": detail}}, 422)
    return render(request, "error.html", {"code": 422, "detail": detail}, 422)


async def _ctrlops_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CtrlopsError)
    status = 404 if "no " in exc.cause and exc.category == "input" else 400
    if request.headers.get("hx-request"):
        return render(request, "partials/error.html", {"error": exc})
    return render(request, "error.html", {"code": status, "detail": exc.cause, "fix": exc.fix},
                  status)  # fmt: skip
