"""Sessions, the admin password, CSRF tokens, the login rate limit, security headers."""

from __future__ import annotations

import os
import secrets
import time
from collections import deque
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ctrlops import paths
from ctrlops.services import overview

SESSION_KEY_FILE = "web-session.key"
ADMIN_SETTING = "web_admin"
PASSWORD_ENV = "CTRLOPS_ADMIN_PASSWORD"  # noqa: S105 (the variable's name)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    b"content-security-policy": CSP.encode(),
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
}

_hasher = PasswordHasher()


def session_key() -> str:
    """Return the key that signs session cookies, created 0600 in the data dir once."""
    return paths.private_key(SESSION_KEY_FILE, lambda: secrets.token_urlsafe(48).encode()).decode()


def ensure_admin() -> str | None:
    """Make sure the admin has a password; return it only when it was generated now.

    The first start takes ``CTRLOPS_ADMIN_PASSWORD``, else generates one; only its
    argon2 hash is stored, so the generated one can be shown exactly once.
    """
    if overview.load_setting(ADMIN_SETTING):
        return None
    given = os.environ.get(PASSWORD_ENV)
    password = given or secrets.token_urlsafe(15)
    written = overview.save_setting(
        ADMIN_SETTING, {"hash": _hasher.hash(password)}, only_if_missing=True
    )
    return password if written and not given else None


def check_password(password: str) -> bool:
    stored = overview.load_setting(ADMIN_SETTING) or {}
    try:
        return _hasher.verify(str(stored.get("hash", "")), password)
    except (VerificationError, InvalidHashError):
        return False


def csrf_token(request: Request) -> str:
    """Return this session's CSRF token, creating it on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def require_csrf(request: Request) -> None:
    """Refuse (403) a state-changing request without this session's token."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and "form" in request.headers.get("content-type", ""):
        sent = str((await request.form()).get(CSRF_FIELD) or "")
    if not expected or not sent or not secrets.compare_digest(str(expected), sent):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page")


class LoginLimiter:
    """At most ``limit`` failed logins per client per ``window`` seconds.

    ``clock`` is read once per decision; a test passes its own to step over the window.
    """

    def __init__(
        self,
        limit: int = 5,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, client: str, now: float) -> int:
        """Forget failures older than the window; return how many are left."""
        seen = self._failures.get(client)
        while seen and seen[0] < now - self.window:
            seen.popleft()
        if seen is not None and not seen:
            del self._failures[client]  # a scan from many addresses must not pile up
            return 0
        return len(seen or ())

    def blocked(self, client: str) -> bool:
        return self._recent(client, self.clock()) >= self.limit

    def failed(self, client: str) -> None:
        now = self.clock()
        self._recent(client, now)
        self._failures.setdefault(client, deque()).append(now)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


class SecurityHeaders:
    """Adds the CSP and friends to every response (pure ASGI: streams stay streams)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in HEADERS.items() if k not in present]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
