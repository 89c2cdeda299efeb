"""The AI assistant's use cases: configure it, check it (doctor), and explain a failed run.

:func:`explain` always returns the offline diagnosis it was given; the model's answer is
an extra that may fail (no key, quota, network...) without taking the diagnosis with it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from ctrlops.ai import doctor as ai_doctor
from ctrlops.ai import prompts
from ctrlops.ai import settings as ai_settings
from ctrlops.ai.client import AIClient
from ctrlops.errors import CtrlopsError
from ctrlops.store import secrets as store_secrets
from ctrlops.store.db import session
from ctrlops.store.models import Destination

log = logging.getLogger(__name__)


def config(
    *,
    base_url: str | None = None,
    model: str | None = None,
    timeout: float | None = None,
    api_key: str | None = None,
) -> dict[str, Any]:
    """Save the given settings (``None`` keeps the stored value); return them masked.

    Raises :class:`InputError` naming the first bad field; nothing is written then.
    """
    if all(v is None for v in (base_url, model, timeout, api_key)):
        return show()
    return ai_settings.save(
        base_url=base_url, model=model, timeout=timeout, api_key=api_key
    ).masked()


def validate(
    *, base_url: str | None = None, model: str | None = None, timeout: float | None = None
) -> None:
    """Raise :class:`InputError` naming the first bad field; store nothing."""
    ai_settings.validate(base_url=base_url, model=model, timeout=timeout)


def show() -> dict[str, Any]:
    """Return the stored settings with the key masked."""
    return ai_settings.load().masked()


def is_local(base_url: str | None) -> bool:
    """Return True when ``base_url`` (or the stored one) is a local provider (no key needed)."""
    url = base_url or ai_settings.load().base_url
    return bool(url) and ai_settings.is_local_url(url or "")


def known_secrets() -> list[str]:
    """Return every secret this installation holds (destination keys, the AI key).

    They are removed literally from anything sent to the model, in addition to the
    pattern-based redaction; one that cannot be decrypted is skipped (it cannot leak).
    """
    found: list[str] = []
    with session() as s:
        for row in s.scalars(select(Destination)):
            found.append(row.access_key_id)
            try:
                found.append(store_secrets.decrypt(row.secret_enc))
            except CtrlopsError:
                continue
    try:
        key = ai_settings.load().api_key
    except CtrlopsError:
        key = None
    return [s for s in (*found, key) if s]


async def explain(
    log_text: str,
    context: dict[str, Any],
    offline: dict[str, Any],
    *,
    secrets: Iterable[str] = (),
) -> dict[str, Any]:
    """Ask the configured model why a run failed.

    Returns ``{"offline": offline, "ai": {"ok": True, "answer", "model"}}`` or, when the
    model cannot answer, ``{"offline": offline, "ai": {"ok": False, "category", "cause",
    "fix"}}``. Never raises for an AI failure. ``secrets`` are extra literal values to
    redact besides the stored ones.
    """
    try:
        settings = ai_settings.load()
        literals = [*known_secrets(), *secrets]
        messages = prompts.messages(log_text, context, offline, secrets=literals)
        async with AIClient(settings) as client:
            answer = await client.complete(messages)
        ai: dict[str, Any] = {"ok": True, "answer": answer.text, "model": answer.model}
    except CtrlopsError as e:
        ai = {"ok": False, **e.as_dict()}
    except Exception as e:
        # The assistant is an extra: a bug in it must not hide the offline diagnosis.
        log.debug("AI explanation failed", exc_info=True)
        ai = {
            "ok": False,
            "category": "ai_error",
            "cause": f"the AI assistant failed unexpectedly: {type(e).__name__}",
            "fix": "run again with --verbose for details, and report it as a bug",
        }
    return {"offline": offline, "ai": ai}


async def doctor() -> dict[str, Any]:
    """Check the configured provider step by step; return the result with the settings.

    Shape: ``{"ok", "step", "category", "cause", "fix", "steps": [...], "settings"}``.
    """
    try:
        settings = ai_settings.load()
    except CtrlopsError as e:
        # The stored key cannot be decrypted: a settings failure, reported like the rest.
        return {"ok": False, "step": "settings", **e.as_dict(), "steps": [], "settings": None}
    result = await ai_doctor.diagnose(settings)
    return {**result.as_dict(), "settings": settings.masked()}
