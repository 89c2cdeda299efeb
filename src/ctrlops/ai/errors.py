"""Every way asking the AI provider can fail, each with a name, a cause and a fix."""

from __future__ import annotations

from ctrlops.errors import CtrlopsError

# The one vocabulary for AI failures (the CLI, the web UI and the doctor all use it).
CATEGORIES = (
    "ai_config",  # no base URL or model configured
    "ai_no_key",  # the provider wants a key and none is configured
    "ai_auth",  # the key was refused (401)
    "ai_model",  # the model does not exist or the key may not use it (403/404)
    "ai_endpoint",  # the base URL is not an OpenAI-compatible API (404 elsewhere, redirects)
    "ai_request",  # the provider refused the request itself (400/413/422)
    "ai_rate_limit",  # 429: too many requests for now
    "ai_quota",  # 429 insufficient_quota: out of credit, waiting will not help
    "ai_overloaded",  # 5xx: the provider is failing or overloaded
    "ai_network",  # DNS, refused, TLS, proxy, not HTTP
    "ai_timeout",  # no answer within the configured timeout
    "ai_malformed",  # an answer that is not a chat completion
)


class AIError(CtrlopsError):
    """Asking the AI provider failed; ``category`` is one of :data:`CATEGORIES`.

    ``status`` is the HTTP status when there was one, ``reason`` narrows a network failure
    (``dns``, ``refused``, ``tls``, ``proxy``, ``protocol``, ``unreachable``) and
    ``detail`` carries the provider's own words, shortened.
    """

    def __init__(
        self,
        category: str,
        cause: str,
        fix: str,
        *,
        status: int | None = None,
        reason: str = "",
        detail: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(cause, fix, category=category)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after

    def as_dict(self) -> dict[str, str]:
        d = super().as_dict()
        if self.status is not None:
            d["status"] = str(self.status)
        if self.reason:
            d["reason"] = self.reason
        if self.detail:
            d["detail"] = self.detail
        return d
