"""Match one rclone log line against the knowledge base and explain it in plain words.

:func:`match` returns the first :class:`Rule` whose pattern is in the line (the table's
order puts specific S3 error codes before the generic statuses they travel with);
:func:`explain` fills the rule's ``{placeholders}`` from the line and adds a provider hint.
:func:`explain_reason` and :func:`explain_record` do the same for what the runner's status
record says (a ``reason=`` such as ``disk_full:PATH``, or a record that cannot vouch for a
backup), where rclone's log has nothing to say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ctrlops.diagnose.hints import HINTS
from ctrlops.diagnose.knowledge import ENTRIES, HARMLESS, REASONS, RECORD_PROBLEMS

CATEGORIES: tuple[str, ...] = (
    "auth_secret",
    "auth_key_unknown",
    "access_denied",
    "bucket_missing",
    "wrong_region",
    "clock_skew",
    "dns",
    "conn_refused",
    "timeout",
    "tls",
    "quota",
    "rate_limit",
    "provider_incompat",
    "source_missing",
    "local_permission",
    "local_resource",
    "config_error",
    "binary_missing",
    "zero_transferred",
    "killed",
    "stalled",
    "other",
)

# What a placeholder reads as when its group did not take part in the match.
_DEFAULTS = {
    "bucket": "the bucket",
    "path": "the path",
    "remote": "the remote",
    "host": "the endpoint's host",
    "addr": "the endpoint",
    "region": "the bucket's region",
    "used": "another region",
    "signal": "a signal",
}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
MAX_MATCH = 8192  # only the head of a huge line is matched, so a regex never runs away


@dataclass(frozen=True)
class Rule:
    """One knowledge-base entry: ``cause`` and ``fix`` may hold ``{placeholders}``."""

    id: str
    category: str
    cause: str
    fix: str
    pattern: re.Pattern[str] = field(repr=False, compare=False)
    weak: bool = False  # names a cause only when nothing more specific is in the log


@dataclass(frozen=True)
class Finding:
    """A rule applied to one line: placeholders filled, provider hint added to ``fix``."""

    rule_id: str
    category: str
    cause: str
    fix: str
    weak: bool
    line: str


RULES: tuple[Rule, ...] = tuple(
    Rule(e.id, e.category, e.cause, e.fix, re.compile(e.pattern, re.IGNORECASE), e.weak)
    for e in ENTRIES
)
_HARMLESS = re.compile("|".join(f"(?:{p})" for p in HARMLESS), re.IGNORECASE)


def is_harmless(line: str) -> bool:
    """Return True for messages that look alarming but report no failure."""
    return _HARMLESS.search(line[:MAX_MATCH]) is not None


def _search(line: str) -> tuple[Rule, re.Match[str]] | None:
    head = line[:MAX_MATCH]
    if is_harmless(head):
        return None
    for rule in RULES:
        m = rule.pattern.search(head)
        if m:
            return rule, m
    return None


def match(line: str) -> Rule | None:
    """Return the first rule whose pattern occurs in ``line``, or ``None``."""
    found = _search(line)
    return found[0] if found else None


def fill(template: str, groups: dict[str, str | None]) -> str:
    """Return ``template`` with ``{name}`` replaced by the group's text or a plain default."""

    def one(m: re.Match[str]) -> str:
        name = m[1]
        value = groups.get(name)
        if value:
            return value.strip().strip("\"'")
        return _DEFAULTS.get(name, "it")

    return _PLACEHOLDER.sub(one, template)


def hint(category: str, provider: str | None) -> str | None:
    """Return the provider-specific refinement for ``category``, if there is one."""
    if not provider:
        return None
    return HINTS.get((category, provider.strip().lower()))


def explain(line: str, provider: str | None = None) -> Finding | None:
    """Return the finding for ``line`` (``None`` when no rule matches).

    ``provider`` is a ctrlops provider name (``aws``, ``r2``, ``b2``, ``wasabi``, ``minio``,
    ``spaces``, ``s3``); when the knowledge base has a hint for it, the hint is appended to
    the fix.
    """
    found = _search(line)
    if found is None:
        return None
    rule, m = found
    groups = m.groupdict()
    fix = fill(rule.fix, groups)
    extra = hint(rule.category, provider)
    if extra:
        fix = f"{fix}. {extra}"
    return Finding(rule.id, rule.category, fill(rule.cause, groups), fix, rule.weak, line)


def explain_reason(reason: str) -> dict[str, str] | None:
    """Return ``{"category", "cause", "fix"}`` for a runner ``reason=`` (``KIND:ARG``).

    ``None`` for a reason the knowledge base does not name (e.g. ``rclone_exit:...``, whose
    explanation is in the log) or an empty one.
    """
    kind, _, arg = reason.partition(":")
    if kind not in REASONS:
        return None
    category, cause, fix = REASONS[kind]
    return {"category": category, "cause": cause.format(arg=arg), "fix": fix.format(arg=arg)}


def explain_record(problem: str) -> dict[str, str]:
    """Return the diagnosis of a run record that cannot vouch for a backup.

    ``problem`` is a key of :data:`knowledge.RECORD_PROBLEMS` (``empty_record``,
    ``no_summary``); raises KeyError for any other.
    """
    category, cause, fix = RECORD_PROBLEMS[problem]
    return {"category": category, "cause": cause, "fix": fix}
