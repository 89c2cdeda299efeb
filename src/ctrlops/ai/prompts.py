"""What the model is asked: a system prompt, and one user message built from redacted parts.

Everything that goes into the user message passes :func:`~ctrlops.ai.redact.redact`,
the offline diagnosis too (its evidence quotes log lines), and the assembled message once
more, so a secret split across two parts cannot slip through.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ctrlops.ai.redact import redact

MAX_LOG_LINES = 200
MAX_LOG_BYTES = 16_000
MAX_VALUE_CHARS = 300
# Context fields in the order the model should read them; other keys follow sorted.
CONTEXT_ORDER = ("provider", "mode", "schedule", "server_os", "rclone_version", "exit_code")

SYSTEM_PROMPT = """\
You are the troubleshooting assistant of ctrlops, a tool that backs Linux servers up to \
S3-compatible storage with rclone (run by cron on the server).
You are given the end of an rclone log, facts about the backup job, and an offline \
diagnosis that ctrlops already made from the log.
Explain to a busy system administrator, in plain language:
Cause: what went wrong, in one or two sentences, naming the file, bucket or setting involved.
Fix: concrete numbered steps to fix it (commands, settings, provider console pages).
If the offline diagnosis is right, confirm it and add what it misses; if the log shows \
it is wrong, say so and why. If the log shows no failure, say the run is fine.
Values shown as ******** were removed on purpose (secrets): never ask for them and never \
invent them. Do not repeat the whole log. Answer in under 200 words."""


def log_tail(text: str, *, max_lines: int = MAX_LOG_LINES, max_bytes: int = MAX_LOG_BYTES) -> str:
    """Return the last ``max_lines`` lines of ``text``, at most ``max_bytes`` UTF-8 bytes.

    The end of a log holds the final attempt and the summary, which is what a diagnosis
    needs; a first line cut by the byte limit is dropped rather than sent half.
    """
    lines = text.splitlines()[-max_lines:] if max_lines > 0 else []
    tail = "\n".join(lines)
    data = tail.encode("utf-8")
    if len(data) <= max_bytes:
        return tail
    cut = data[-max_bytes:].decode("utf-8", "ignore")
    newline = cut.find("\n")
    return cut[newline + 1 :] if newline >= 0 else cut


def _context_lines(context: Mapping[str, Any]) -> list[str]:
    keys = [k for k in CONTEXT_ORDER if k in context]
    keys += sorted(k for k in context if k not in CONTEXT_ORDER)
    out = []
    for key in keys:
        value = context[key]
        if value is None or value == "":
            continue
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        out.append(f"- {key}: {shown[:MAX_VALUE_CHARS]}")
    return out


def _offline_lines(offline: Mapping[str, Any]) -> list[str]:
    out = [f"- {k}: {offline[k]}" for k in ("category", "cause", "fix") if offline.get(k)]
    if offline.get("failed_files"):
        out.append(f"- failed files: {offline['failed_files']}")
    out += [f"- evidence: {line}" for line in list(offline.get("evidence") or [])[:5]]
    return out


def user_message(
    log_text: str,
    context: Mapping[str, Any],
    offline: Mapping[str, Any],
    *,
    secrets: Iterable[str] = (),
    max_lines: int = MAX_LOG_LINES,
    max_bytes: int = MAX_LOG_BYTES,
) -> str:
    """Return the user message: job facts, the offline diagnosis and the log tail, redacted."""
    secrets = [s for s in secrets if s]
    # Redact a generous tail before cutting it to size, so a cut cannot hide the start of
    # a private key block or a "secret = ..." line from the patterns.
    rough = log_tail(log_text, max_lines=max_lines * 2, max_bytes=max_bytes * 4)
    tail = log_tail(redact(rough, secrets), max_lines=max_lines, max_bytes=max_bytes)
    parts = [
        "Why did this backup fail, and how do I fix it?",
        "",
        "Job:",
        *(_context_lines(context) or ["- (no details)"]),
        "",
        "Offline diagnosis by ctrlops:",
        *(_offline_lines(offline) or ["- (none)"]),
        "",
        f"End of the rclone log (last {len(tail.splitlines())} lines):",
        "```",
        tail,
        "```",
    ]
    return redact("\n".join(parts), secrets)


def messages(
    log_text: str,
    context: Mapping[str, Any],
    offline: Mapping[str, Any],
    *,
    secrets: Iterable[str] = (),
) -> list[dict[str, str]]:
    """Return the chat messages (system + user) asking why the run failed."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_message(log_text, context, offline, secrets=secrets)},
    ]


PING = [
    {"role": "system", "content": "You are a health check. Reply with one word."},
    {"role": "user", "content": "Reply with: ok"},
]
