"""Delivery through Apprise: email, Slack, Discord, Telegram, ntfy, webhooks and more."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import apprise

from ctrlops.errors import InputError


def validate_url(url: str) -> str:
    """Return ``url`` if Apprise knows its scheme; raises InputError("url") otherwise."""
    url = url.strip()
    if not url or not apprise.Apprise().add(url):
        raise InputError(
            "url",
            "not an Apprise notification URL (e.g. ntfy://topic, "
            "mailto://user:pass@example.com, json://host/path)",
        )
    return url


def masked(url: str) -> str:
    """Show where an alert goes without its tokens or passwords."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}/…" if host else f"{parts.scheme}://…"


async def send(urls: list[str], title: str, body: str, *, failure: bool) -> bool:
    """Send one message to every URL; return True when all deliveries succeeded."""
    if not urls:
        return True
    box = apprise.Apprise()
    for url in urls:
        box.add(url)
    kind = apprise.NotifyType.FAILURE if failure else apprise.NotifyType.SUCCESS
    # Apprise's delivery is blocking I/O; keep the event loop (and the web UI) free.
    result = await asyncio.to_thread(box.notify, body=body, title=title, notify_type=kind)
    return bool(result)
