"""The AI provider settings: validated here, stored in the ``settings`` table (key ``ai``).

The API key lives only in ``Setting.secret_enc`` (encrypted, see ``store.secrets``); the
plain ``value`` column holds the base URL, model and timeout, never the key.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from ctrlops.errors import InputError
from ctrlops.remote.exec import MASK
from ctrlops.store import secrets
from ctrlops.store.db import session
from ctrlops.store.models import Setting

KEY = "ai"
DEFAULT_TIMEOUT = 60.0
MIN_TIMEOUT = 1.0
MAX_TIMEOUT = 600.0
_ENDPOINT_SUFFIX = "/chat/completions"


@dataclass(frozen=True)
class AISettings:
    """What the client needs; ``api_key`` is the decrypted key or ``None``."""

    base_url: str | None = None
    model: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    api_key: str | None = None

    @property
    def is_local(self) -> bool:
        """True for a provider on this machine or a private network (Ollama, vLLM)."""
        return bool(self.base_url) and is_local_url(self.base_url or "")

    def masked(self) -> dict[str, Any]:
        """Return the settings for display: the key is never shown, only whether it is set."""
        return {
            "base_url": self.base_url,
            "model": self.model,
            "timeout": self.timeout,
            "api_key": MASK if self.api_key else None,
            "configured": bool(self.base_url and self.model),
        }


def is_local_url(url: str) -> bool:
    """Return True when ``url``'s host is loopback, private or link-local (no key needed)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_private or ip.is_link_local


def check_base_url(value: str) -> str:
    """Return ``value`` normalised (no trailing ``/`` or ``/chat/completions``).

    Raises :class:`InputError` (field ``base_url``) for anything but an http(s) URL with
    a host, or one carrying credentials, a query or a fragment.
    """
    value = value.strip()
    fix = "e.g. --base-url https://api.openai.com/v1 or http://127.0.0.1:11434/v1 (Ollama)"
    if not value:
        raise InputError("base_url", "must not be empty", fix)
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in value):
        raise InputError("base_url", "must not contain spaces or control characters", fix)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError("base_url", "must be an http:// or https:// URL with a host", fix)
    if parts.username or parts.password:
        raise InputError("base_url", "must not carry credentials; the key goes in separately", fix)
    if parts.query or parts.fragment:
        raise InputError("base_url", "must not have a query or fragment", fix)
    try:
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        raise InputError("base_url", "has an invalid port", fix) from None
    path = parts.path.rstrip("/")
    # A pasted full endpoint URL is a common slip; the client adds the suffix itself.
    if path.endswith(_ENDPOINT_SUFFIX):
        path = path[: -len(_ENDPOINT_SUFFIX)]
    return f"{parts.scheme}://{parts.netloc}{path}"


def check_model(value: str) -> str:
    """Return the model name; raises :class:`InputError` (field ``model``) if unusable."""
    value = value.strip()
    if not value:
        raise InputError("model", "must not be empty", "e.g. --model gpt-4o-mini")
    if len(value) > 256 or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in value):
        raise InputError("model", "must be at most 256 printable characters without spaces")
    return value


def check_timeout(value: float) -> float:
    """Return ``value`` in seconds; raises :class:`InputError` (field ``timeout``)."""
    if not MIN_TIMEOUT <= value <= MAX_TIMEOUT:
        raise InputError("timeout", f"must be between {MIN_TIMEOUT:g} and {MAX_TIMEOUT:g} seconds")
    return float(value)


def check_api_key(value: str) -> str:
    """Return the key; raises :class:`InputError` (field ``api_key``) if unusable.

    Only printable ASCII without spaces: the key goes into an HTTP header, where a
    newline would start a header of the key's choosing.
    """
    value = value.strip()
    if not value:
        raise InputError("api_key", "must not be empty")
    if any(not ("!" <= c <= "~") for c in value):
        raise InputError("api_key", "must be printable ASCII without spaces")
    return value


def load() -> AISettings:
    """Return the stored settings (defaults when none); raises ``CtrlopsError`` when the
    stored key cannot be decrypted."""
    with session() as s:
        row = s.get(Setting, KEY)
        if row is None:
            return AISettings()
        value = dict(row.value or {})
        key = secrets.decrypt(row.secret_enc) if row.secret_enc else None
    return AISettings(
        base_url=value.get("base_url"),
        model=value.get("model"),
        timeout=float(value.get("timeout") or DEFAULT_TIMEOUT),
        api_key=key,
    )


def validate(
    *, base_url: str | None = None, model: str | None = None, timeout: float | None = None
) -> dict[str, Any]:
    """Return the given (non-``None``) fields normalised, as they would be stored.

    Raises :class:`InputError` naming the first bad field.
    """
    changes: dict[str, Any] = {}
    if base_url is not None:
        changes["base_url"] = check_base_url(base_url)
    if model is not None:
        changes["model"] = check_model(model)
    if timeout is not None:
        changes["timeout"] = check_timeout(timeout)
    return changes


def save(
    *,
    base_url: str | None = None,
    model: str | None = None,
    timeout: float | None = None,
    api_key: str | None = None,
) -> AISettings:
    """Validate the given fields, merge them into the stored settings and return the result.

    Fields left ``None`` keep their stored value. Raises :class:`InputError` naming the
    first bad field; nothing is written then.
    """
    changes = validate(base_url=base_url, model=model, timeout=timeout)
    key = check_api_key(api_key) if api_key is not None else None
    with session() as s:
        row = s.get(Setting, KEY)
        if row is None:
            row = Setting(key=KEY, value={}, secret_enc=None)
            s.add(row)
        # A new dict, so SQLAlchemy sees the JSON column change.
        row.value = {**(row.value or {}), **changes}
        if key is not None:
            row.secret_enc = secrets.encrypt(key)
        value = dict(row.value)
        enc = row.secret_enc
    current = AISettings(
        base_url=value.get("base_url"),
        model=value.get("model"),
        timeout=float(value.get("timeout") or DEFAULT_TIMEOUT),
    )
    return replace(current, api_key=key if key is not None else _decrypt(enc))


def _decrypt(token: bytes | None) -> str | None:
    return secrets.decrypt(token) if token else None
