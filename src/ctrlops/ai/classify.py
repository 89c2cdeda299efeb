"""Name what went wrong talking to the provider: an HTTP answer or an exception -> AIError.

Pure functions of what was seen (status, headers, body, exception chain), so every
branch is reachable from a test without a provider.
"""

from __future__ import annotations

import json
import socket
import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from ctrlops.ai.errors import AIError

DETAIL_CHARS = 300
_CONFIG = "ctrlops ai config"
_QUOTA_CODES = ("insufficient_quota", "billing_hard_limit_reached", "billing_not_active")
_QUOTA_WORDS = ("exceeded your current quota", "insufficient_quota", "billing", "credit balance")


def provider_message(body: bytes) -> tuple[str, str]:
    """Return ``(code, message)`` from an error body, in OpenAI's shape or a plain string."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return "", body.decode("utf-8", "replace").strip()[:DETAIL_CHARS]
    err = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(err, str):
        return "", err[:DETAIL_CHARS]
    if not isinstance(err, dict):
        return "", str(err)[:DETAIL_CHARS]
    code = " ".join(str(err.get(k) or "") for k in ("code", "type")).strip()
    message = str(err.get("message") or err.get("detail") or "")
    return code, message[:DETAIL_CHARS]


def retry_after(headers: httpx.Headers, now: datetime | None = None) -> float | None:
    """Return the seconds ``Retry-After`` (or ``retry-after-ms``) asks to wait, if any."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def from_response(response: httpx.Response, *, model: str, has_key: bool) -> AIError:
    """Return the :class:`AIError` an unsuccessful (non-2xx) answer stands for."""
    status = response.status_code
    code, message = provider_message(response.content)
    said = f": {message}" if message else ""
    lowered = f"{code} {message}".lower()
    kw: dict[str, Any] = {"status": status, "detail": message}
    if status == 401:
        if not has_key:
            return AIError(
                "ai_no_key",
                f"the provider needs an API key and none is configured (401){said}",
                f"store one: `CTRLOPS_AI_API_KEY=... {_CONFIG}` or `{_CONFIG} --api-key-stdin`",
                **kw,
            )
        return AIError(
            "ai_auth",
            f"the provider refused the API key (401){said}",
            "the key is wrong, revoked or for another provider: create a new key in the "
            f"provider's console and store it with `{_CONFIG} --api-key-stdin`",
            **kw,
        )
    if status == 429:
        if any(c in code for c in _QUOTA_CODES) or any(w in lowered for w in _QUOTA_WORDS):
            return AIError(
                "ai_quota",
                f"the account is out of quota or credit (429){said}",
                "add credit or raise the spending limit in the provider's billing settings "
                "(waiting will not help), or configure another provider or a local model",
                **kw,
            )
        wait = retry_after(response.headers)
        when = f"; it asked to wait {wait:.0f} s" if wait is not None else ""
        return AIError(
            "ai_rate_limit",
            f"the provider is rate limiting this key (429){when}{said}",
            "wait a minute and try again; if it keeps happening, raise the key's rate limit "
            "or use a model with higher limits",
            retry_after=wait,
            **kw,
        )
    if status in (403, 404) and ("model" in lowered or status == 403):
        return AIError(
            "ai_model",
            f"the model {model!r} does not exist or this key may not use it ({status}){said}",
            f"check the spelling and pick a model the key can use: `{_CONFIG} --model NAME` "
            "(`ctrlops ai doctor` lists the models the provider offers)",
            **kw,
        )
    if status in (404, 405) or 300 <= status < 400:
        target = response.headers.get("location")
        moved = f" (it redirects to {target})" if target else ""
        return AIError(
            "ai_endpoint",
            f"{response.request.url} is not an OpenAI-compatible chat completions endpoint "
            f"({status}){moved}{said}",
            "set the API's base URL, usually ending in /v1 (e.g. https://api.openai.com/v1, "
            f"http://127.0.0.1:11434/v1 for Ollama): `{_CONFIG} --base-url URL`",
            **kw,
        )
    if status >= 500:
        return AIError(
            "ai_overloaded",
            f"the provider is failing or overloaded ({status}){said}",
            "try again in a few minutes; check the provider's status page",
            **kw,
        )
    return AIError(
        "ai_request",
        f"the provider refused the request ({status}){said}",
        "check that the model supports chat completions; a very long log may exceed the "
        "model's context (the log tail sent is already shortened)",
        **kw,
    )


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def from_exception(exc: httpx.HTTPError, url: str, *, proxy: str | None, timeout: float) -> AIError:
    """Return the :class:`AIError` a transport failure stands for (never an HTTP status)."""
    host = urlsplit(url).netloc
    chain = _chain(exc)
    text = " ".join(str(e) for e in chain).lower()
    detail = str(exc)[:DETAIL_CHARS]
    if isinstance(exc, httpx.TimeoutException):
        return AIError(
            "ai_timeout",
            f"the provider at {host} did not answer within {timeout:g} s",
            f"try again; if the model is slow (a large or local one), raise it with "
            f"`{_CONFIG} --timeout SECONDS`",
            detail=detail,
        )
    if isinstance(exc, httpx.ProxyError) or (proxy and isinstance(exc, httpx.ConnectError)):
        return AIError(
            "ai_network",
            f"the proxy {proxy or ''} did not let the request through to {host}",
            "check HTTPS_PROXY/HTTP_PROXY/ALL_PROXY (and NO_PROXY) in this environment, or "
            "ask for the provider's host to be allowed through the proxy",
            reason="proxy",
            detail=detail,
        )
    if any(isinstance(e, ssl.SSLError) for e in chain) or "ssl" in text or "certificate" in text:
        plain = "wrong version number" in text or "record layer failure" in text
        return AIError(
            "ai_network",
            f"TLS with {host} failed"
            + (": the server does not speak https" if plain else f": {detail}"),
            "use http:// for a local server without TLS"
            if plain
            else "check the base URL's host; a proxy that inspects TLS needs its CA in "
            "SSL_CERT_FILE",
            reason="tls",
            detail=detail,
        )
    if (
        any(isinstance(e, socket.gaierror) for e in chain)
        or "name or service not known" in text
        or "nodename nor servname" in text
        or ("temporary failure in name resolution" in text)
        or "getaddrinfo" in text
        or "no address associated" in text
    ):
        return AIError(
            "ai_network",
            f"the provider's host name {urlsplit(url).hostname} could not be resolved (DNS)",
            "check the base URL for a typo and this machine's DNS (/etc/resolv.conf)",
            reason="dns",
            detail=detail,
        )
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return AIError(
            "ai_network",
            f"nothing is listening at {host} (connection refused)",
            "check the base URL's host and port; for a local model, start it (e.g. `ollama "
            "serve`) and make sure it listens on that address",
            reason="refused",
            detail=detail,
        )
    if isinstance(exc, httpx.RemoteProtocolError | httpx.LocalProtocolError):
        return AIError(
            "ai_network",
            f"{host} did not answer in HTTP ({detail})",
            "check the base URL's port: it points at something that is not a web API",
            reason="protocol",
            detail=detail,
        )
    return AIError(
        "ai_network",
        f"cannot reach the provider at {host}: {detail or type(exc).__name__}",
        "check this machine's network connection, firewall and the base URL",
        reason="unreachable",
        detail=detail,
    )
