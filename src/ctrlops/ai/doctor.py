"""``ai doctor``: check the AI provider step by step and stop at the first failure.

Steps: ``settings`` (base URL and model present, a key for a remote provider) ->
``base_url`` (a usable URL) -> ``reachable`` (an HTTP answer from ``GET /models``) ->
``key`` (not refused) -> ``model`` (listed, when the provider lists models) ->
``completion`` (a one-word completion). Each failure says why and what to do.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ctrlops.ai import client as ai_client
from ctrlops.ai.client import AIClient
from ctrlops.ai.errors import AIError
from ctrlops.ai.prompts import PING
from ctrlops.ai.settings import AISettings, check_base_url
from ctrlops.errors import InputError

STEPS = ("settings", "base_url", "reachable", "key", "model", "completion")
MAX_LISTED = 20
# A check passes (True) or could not be made here (None, "skipped"); it fails by raising.
Outcome = tuple[bool | None, str]


@dataclass
class DoctorResult:
    """The outcome; ``step`` names the failing step (``None`` when all passed)."""

    ok: bool = True
    step: str | None = None
    category: str = "ok"
    cause: str = ""
    fix: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    models: list[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "step": self.step,
            "category": self.category,
            "cause": self.cause,
            "fix": self.fix,
            "steps": self.steps,
        }


class _Failed(Exception):
    def __init__(self, step: str, error: AIError) -> None:
        self.step = step
        self.error = error


class _Steps:
    """Records each step's outcome and time; a failing step stops the doctor."""

    def __init__(self, result: DoctorResult) -> None:
        self.result = result

    def passed(self, step: str, started: float, detail: str = "", ok: bool | None = True) -> None:
        took = round(time.monotonic() - started, 3)
        entry: dict[str, Any] = {"step": step, "ok": ok, "seconds": took}
        if detail:
            entry["detail"] = detail
        self.result.steps.append(entry)

    async def run(self, step: str, check: Callable[[], Awaitable[Outcome]]) -> None:
        started = time.monotonic()
        try:
            ok, detail = await check()
        except AIError as e:
            self.passed(step, started, e.cause, ok=False)
            raise _Failed(step, e) from None
        self.passed(step, started, detail, ok=ok)


async def diagnose(settings: AISettings, *, max_attempts: int = 2) -> DoctorResult:
    """Return the doctor's result for ``settings``; never raises for a provider failure."""
    result = DoctorResult()
    steps = _Steps(result)
    try:
        await _check(settings, steps, result, max_attempts)
    except _Failed as f:
        result.ok, result.step = False, f.step
        result.category, result.cause, result.fix = f.error.category, f.error.cause, f.error.fix
    else:
        result.cause = f"{settings.model} at {settings.base_url} answers"
    return result


async def _check(
    settings: AISettings, steps: _Steps, result: DoctorResult, max_attempts: int
) -> None:
    async def present() -> Outcome:
        problem = ai_client.missing_settings(settings)
        if problem is not None:
            raise problem
        return True, "key stored" if settings.api_key else "no key (a local provider)"

    async def url_valid() -> Outcome:
        try:
            return True, check_base_url(settings.base_url or "")
        except InputError as e:
            raise AIError(
                "ai_config", f"the stored base URL is unusable: {e.cause}", e.fix
            ) from None

    await steps.run("settings", present)
    await steps.run("base_url", url_valid)
    async with AIClient(settings, max_attempts=max_attempts) as c:
        listed: list[str] | None = None
        refused: AIError | None = None

        async def reachable() -> Outcome:
            nonlocal listed, refused
            try:
                listed = await c.list_models()
            except AIError as e:
                if e.status != 401:
                    raise
                refused = e  # an answer, so reachable; the key step reports it
                return True, "answered 401"
            return True, "answered"

        async def key_accepted() -> Outcome:
            if refused is not None:
                raise refused
            if listed is None:
                return None, "not checked here: the provider lists no models"
            return True, "accepted" if settings.api_key else "no key needed"

        await steps.run("reachable", reachable)
        await steps.run("key", key_accepted)
        result.models = listed

        async def model_listed() -> Outcome:
            if listed is None:
                return None, "the provider lists no models; the completion decides"
            if c.model in listed:
                return True, "listed"
            shown = ", ".join(sorted(listed)[:MAX_LISTED]) or "none"
            raise AIError(
                "ai_model",
                f"the provider does not offer the model {c.model!r}; it offers: {shown}",
                "pick one of those: `ctrlops ai config --model NAME` (for Ollama, "
                f"`ollama pull {c.model}` first)",
            )

        await steps.run("model", model_listed)

        async def completion() -> Outcome:
            answer = await c.complete(PING)
            return True, f"answered {answer.text[:40]!r}"

        await steps.run("completion", completion)
