"""Templates, their filters, and turning a service error into per-field messages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from ctrlops.errors import CtrlopsError, InputError
from ctrlops.units import human_size as size
from ctrlops.web.security import csrf_token

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")

# The seed's button labels, exactly.
FIX_LABELS = {
    "install-rclone": "Install Rclone",
    "install-cron": "Install Cron",
    "start-cron": "Start Cron Service",
    "reconnect": "Reconnect",
    "redeploy": "Redeploy",
}
STATE_CLASS = {
    "success": "ok",
    "running": "run",
    "warning": "warn",
    "skipped": "warn",
}


def ago(value: datetime | timedelta | str | None) -> str:
    if value is None or value == "":
        return "never"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    delta = value if isinstance(value, timedelta) else datetime.now(UTC) - value
    s = int(delta.total_seconds())
    if s < 120:
        return f"{s} s ago"
    if s < 7200:
        return f"{s // 60} min ago"
    if s < 172800:
        return f"{s // 3600} h ago"
    return f"{s // 86400} days ago"


def when(value: datetime | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def domid(name: str) -> str:
    """An HTML id / CSS selector safe form of a name ('.' is legal in names)."""
    return "j-" + re.sub(r"[^A-Za-z0-9_-]", lambda m: f"_{ord(m.group()):x}", name)


def mask(value: str | None) -> str:
    """Show enough of an access key id to recognise it, never all of it."""
    if not value:
        return "-"
    return value[:4] + "…" + value[-2:] if len(value) > 8 else "…"


def state_class(state: str | None) -> str:
    return STATE_CLASS.get(state or "", "bad" if state else "none")


TEMPLATES.env.filters.update(size=size, ago=ago, when=when, domid=domid, mask=mask)
TEMPLATES.env.globals.update(FIX_LABELS=FIX_LABELS, state_class=state_class)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    ctx = {"csrf": csrf_token(request), "user": request.session.get("user"), **(context or {})}
    return TEMPLATES.TemplateResponse(request, name, ctx, status_code=status)


def field_errors(error: CtrlopsError, fields: tuple[str, ...]) -> dict[str, str]:
    """Map an error to ``{form field: message}``; ``"_form"`` when no field matches.

    The services name fields as the CLI does (``--port``, ``name``, ``dest``); the form
    fields are the same words without dashes.
    """
    message = error.cause
    if isinstance(error, InputError):
        field = error.field.lstrip("-").replace("-", "_")
        field = {"local": "host", "secret_access_key": "secret", "destination": "dest"}.get(
            field, field
        )
        message = error.reason
        if field in fields:
            return {field: message + (f" ({error.fix})" if error.fix else "")}
    return {"_form": message + (f" — {error.fix}" if error.fix else "")}
