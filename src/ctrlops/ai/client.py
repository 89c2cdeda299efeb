"""An async client for OpenAI-compatible ``POST {base}/chat/completions``.

Every call is bounded: each request by the configured timeout, retries by
:data:`MAX_ATTEMPTS`, and each wait between them by :data:`MAX_WAIT`. Failures come out
as one :class:`~ctrlops.ai.errors.AIError` with a category, a cause and a fix.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ctrlops import __version__
from ctrlops.ai import classify
from ctrlops.ai.errors import AIError
from ctrlops.ai.settings import AISettings

MAX_ATTEMPTS = 3
MAX_WAIT = 30.0  # longest Retry-After honoured; beyond it the user hears when to come back
BACKOFF = 1.0  # first wait after a 5xx, doubled on each retry
RETRYABLE = ("ai_rate_limit", "ai_overloaded")

Message = dict[str, str]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Completion:
    """A model's answer: ``text``, the ``model`` that gave it, how many ``attempts`` it took."""

    text: str
    model: str
    attempts: int


def proxy_for(url: str) -> str | None:
    """Return the proxy the environment routes ``url`` through, if any (as httpx will)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy and not urllib.request.proxy_bypass(parts.netloc):
        return proxy
    return None


def missing_settings(settings: AISettings) -> AIError | None:
    """Return why ``settings`` cannot be used to ask a model yet, or ``None``.

    A remote provider without a key is refused here, before the (redacted) log is sent
    to a provider that would only answer 401.
    """
    if not settings.base_url or not settings.model:
        missing = " and ".join(
            n for n, v in (("base URL", settings.base_url), ("model", settings.model)) if not v
        )
        return AIError(
            "ai_config",
            f"the AI assistant is not configured: no {missing}",
            "ctrlops ai config --base-url https://api.openai.com/v1 --model gpt-4o-mini "
            "(then give the key via CTRLOPS_AI_API_KEY or --api-key-stdin)",
        )
    if not settings.api_key and not settings.is_local:
        return AIError(
            "ai_no_key",
            f"no API key is configured for {settings.base_url}",
            "store one: `CTRLOPS_AI_API_KEY=... ctrlops ai config` with any option, or "
            "`ctrlops ai config --api-key-stdin`",
        )
    return None


class AIClient:
    """Talks to one configured provider; use as ``async with AIClient(settings) as c``."""

    def __init__(
        self,
        settings: AISettings,
        *,
        max_attempts: int = MAX_ATTEMPTS,
        max_wait: float = MAX_WAIT,
        backoff: float = BACKOFF,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        problem = missing_settings(settings)
        if problem is not None:
            raise problem
        self.settings = settings
        self.base_url = (settings.base_url or "").rstrip("/")
        self.model = settings.model or ""
        self.max_attempts = max(1, max_attempts)
        self.max_wait = max_wait
        self.backoff = backoff
        self._sleep = sleep
        headers = {"User-Agent": f"ctrlops/{__version__}", "Accept": "application/json"}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        self._http = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=False,  # a redirect would resend the key somewhere else
        )

    async def __aenter__(self) -> AIClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self._http.aclose()

    def _network_error(self, exc: httpx.HTTPError, url: str) -> AIError:
        return classify.from_exception(
            exc, url, proxy=proxy_for(url), timeout=self.settings.timeout
        )

    async def _send(self, method: str, url: str, body: dict[str, Any] | None) -> httpx.Response:
        try:
            return await self._http.request(method, url, json=body)
        except httpx.HTTPError as e:
            raise self._network_error(e, url) from None

    async def complete(self, messages: list[Message]) -> Completion:
        """Return the model's answer to ``messages``.

        Rate limits (429, honouring ``Retry-After`` up to ``max_wait``) and 5xx answers
        are retried up to ``max_attempts`` times in all. Raises :class:`AIError`.
        """
        url = f"{self.base_url}/chat/completions"
        body = {"model": self.model, "messages": messages, "stream": False}
        for attempt in range(1, self.max_attempts + 1):
            response = await self._send("POST", url, body)
            if response.is_success:
                return _parse(response, self.model, attempt)
            err = classify.from_response(
                response, model=self.model, has_key=bool(self.settings.api_key)
            )
            if err.category not in RETRYABLE or attempt == self.max_attempts:
                raise err
            wait = err.retry_after
            if wait is None:
                wait = self.backoff * 2 ** (attempt - 1)
            if wait > self.max_wait:
                raise err  # its cause already says how long the provider wants
            await self._sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def list_models(self) -> list[str] | None:
        """Return the model ids ``GET {base}/models`` lists, or ``None`` when the provider
        has no such listing (404/405/403). Raises :class:`AIError` for anything else."""
        url = f"{self.base_url}/models"
        response = await self._send("GET", url, None)
        if response.status_code in (403, 404, 405):
            return None
        if not response.is_success:
            raise classify.from_response(
                response, model=self.model, has_key=bool(self.settings.api_key)
            )
        try:
            data = response.json()
            return [str(m["id"]) for m in data["data"]]
        except (ValueError, KeyError, TypeError):
            return None  # an unusual listing is no reason to fail; the completion decides


def _parse(response: httpx.Response, model: str, attempts: int) -> Completion:
    """Return the completion in a 2xx answer; raises :class:`AIError` (``ai_malformed``)."""
    fix = (
        "check that the base URL is the provider's API (usually ending in /v1), not a web "
        "page or a proxy's login page; try again, and report it if it persists"
    )
    try:
        data: Any = json.loads(response.content)
    except ValueError:
        start = response.content[:120].decode("utf-8", "replace")
        raise AIError(
            "ai_malformed",
            f"the provider answered {response.status_code} with something that is not JSON: "
            f"{start!r}",
            fix,
            status=response.status_code,
        ) from None
    if isinstance(data, dict) and "error" in data and "choices" not in data:
        # Some gateways answer 200 with an error body.
        _, message = classify.provider_message(response.content)
        raise AIError("ai_malformed", f"the provider answered with an error: {message}", fix)
    try:
        choice = data["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise AIError(
            "ai_malformed",
            "the provider's answer has no choices[0].message.content: it is not a chat completion",
            fix,
            status=response.status_code,
        ) from None
    if not isinstance(content, str) or not content.strip():
        refusal = choice["message"].get("refusal") if isinstance(choice, dict) else None
        cause = f"the model refused: {refusal}" if refusal else "the model returned no text"
        raise AIError(
            "ai_malformed",
            cause,
            "try again; if it persists, pick another model with `ctrlops ai config --model`",
        )
    return Completion(content.strip(), str(data.get("model") or model), attempts)
