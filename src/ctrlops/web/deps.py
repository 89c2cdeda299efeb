"""Request dependencies shared by the routes."""

from __future__ import annotations

from fastapi import Request


class NotLoggedIn(Exception):
    """Raised for a request without a logged-in session (answered with a redirect)."""


async def require_user(request: Request) -> str:
    user = request.session.get("user")
    if not isinstance(user, str):
        raise NotLoggedIn()
    return user
