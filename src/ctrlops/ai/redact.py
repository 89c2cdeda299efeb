"""Remove secrets from text before it leaves the machine (an AI prompt, a support bundle).

Patterns catch what a log or a config can hold without anyone saying it is a secret;
literal secrets the caller knows (the destination's keys, the AI key) are removed
exactly, in the spellings they take inside URLs and JSON too. Over-redaction is the
accepted price: a masked path costs a little context, a leaked key costs the bucket.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from urllib.parse import quote

from ctrlops.remote.exec import MASK

# For a literal made only of mask characters ("**"), so masking it cannot recreate it.
ALT_MASK = "[REDACTED]"
WITHHELD = "[text withheld: it could not be redacted safely]"
_MAX_ROUNDS = 8

_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?"
    r"(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)
_KEY_MASK = "-----BEGIN PRIVATE KEY-----" + MASK + "-----END PRIVATE KEY-----"
_KEY_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_KEY_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
# Headers whose whole value is a credential, to the end of the line.
_HEADER = re.compile(
    r"(?im)(?P<name>(?<![A-Za-z0-9_-])[\"']?(?:proxy-authorization|authorization|x-api-key|"
    r"api-key|x-goog-api-key|x-amz-security-token|cookie|set-cookie)[\"']?[ \t]*[:=][ \t]*)"
    r"(?P<value>[^\n]+)"
)
_BEARER = re.compile(r"(?i)\b(?P<scheme>bearer)(?P<sp>\s+)[A-Za-z0-9._~+/=-]{8,}")
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@\"'<>]*):(?P<pw>[^\s/@\"'<>]+)@"
)
_SIGNED_QUERY = re.compile(
    r"(?i)(?P<name>\bX-Amz-(?:Signature|Credential|Security-Token)|[?&]Signature|"
    r"\bAWSAccessKeyId|[?&]sig|\bCredential|\bSignature)=(?P<value>[^&\s\"',;<>]+)"
)
# Config lines and key=value pairs whose name says "secret". A ':' separator only counts
# for config-style names (snake_case, UPPER_CASE, Header-Case), not CamelCase error codes
# such as rclone's "InvalidAccessKeyId: The AWS Access Key Id ..." that a diagnosis needs.
_SENSITIVE_NAME = (
    r"(?:password|passwd|pwd|pass|secret|token|api[_-]?key|apikey|access[_-]?key(?:[_-]?id)?"
    r"|session[_-]?key|private[_-]?key|client[_-]?secret|credentials?)"
)
_PAIR = re.compile(
    r"(?i)(?P<q>[\"']?)(?P<name>(?<![A-Za-z0-9])(?:[A-Za-z0-9_.-]*[_.-])?"
    + _SENSITIVE_NAME
    + r"(?:[_.-][A-Za-z0-9_]*)?)"
    r"(?P=q)(?P<sep>[ \t]*(?:=|:)[ \t]*)"
    r"(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[^\s,;&\"'}]+)"
)
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}\b")
_API_TOKEN = re.compile(
    r"\b(?:sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abposr]-[A-Za-z0-9-]{10,}"
    r"|glpat-[A-Za-z0-9_-]{20,}|AIza[A-Za-z0-9_-]{35})"
)
# 40 characters of base64 (an AWS secret key) or longer (session tokens); required to mix
# upper case, lower case and digits so words, hex digests and plain paths survive.
_BASE64_RUN = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/=_-])")


_PATH_SEGMENT = re.compile(r"[A-Z]?[a-z0-9]*|[A-Z0-9]+")


def _is_random(s: str) -> bool:
    mixed = (
        any(c.isupper() for c in s) and any(c.islower() for c in s) and any(c.isdigit() for c in s)
    )
    # A path is words between slashes ("/home/alice/Documents/2024"); a key's slashes
    # split random mixed-case runs.
    path = "/" in s and all(_PATH_SEGMENT.fullmatch(p) for p in s.strip("=").split("/"))
    return mixed and not path


def _pair(m: re.Match[str]) -> str:
    name, sep, value = m["name"], m["sep"], m["value"]
    if ":" in sep and not m["q"] and not _config_style(name):
        return m[0]
    if value == MASK or value.strip("\"'") == MASK:
        return m[0]
    quote_char = value[0] if value[:1] in ("'", '"') else ""
    return f"{m['q']}{name}{m['q']}{sep}{quote_char}{MASK}{quote_char}"


def _config_style(name: str) -> bool:
    # snake_case / UPPER_CASE / lower-case / Header-Case, as config files and headers spell
    # names; CamelCase (an error code) is not a key-value pair.
    parts = re.split(r"[_.-]", name)
    return (
        name.islower()
        or name.isupper()
        or all(p[:1].isupper() and p[1:].islower() for p in parts if p)
    )


def _cut_key_tail(text: str) -> str:
    # A log tail can start inside a key block: an END before any BEGIN ends a key whose
    # start was cut off, so everything before it goes.
    end = _KEY_END.search(text)
    begin = _KEY_BEGIN.search(text)
    if end is None or (begin is not None and begin.start() < end.start()):
        return text
    return MASK + "-----END PRIVATE KEY-----" + text[end.end() :]


def _literal_forms(secret: str) -> set[str]:
    forms = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    return {f for f in forms if f}


def _remove_literal(text: str, secret: str) -> str:
    mask = MASK if set(secret) - set(MASK) else ALT_MASK
    # Each pass removes at least one character that is not in the mask, so this ends, and
    # it also catches an occurrence that only appears once a neighbour was masked.
    while secret in text:
        text = text.replace(secret, mask)
    return text


def _remove_literals(text: str, secrets: list[str]) -> str:
    # Masking one literal can complete another that contains mask characters; repeat
    # until none is left, and withhold the whole text rather than loop on a pathological set.
    for _ in range(_MAX_ROUNDS):
        if not any(s in text for s in secrets):
            return text
        for secret in secrets:
            text = _remove_literal(text, secret)
    if not any(s in text for s in secrets):
        return text
    return "" if any(s in WITHHELD for s in secrets) else WITHHELD


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with secrets replaced by ``********``.

    ``secrets`` are literal values to remove wherever they occur (empty ones are ignored);
    the patterns above remove the kinds of secret nobody named.
    """
    literals = sorted(
        {form for s in secrets if s for form in _literal_forms(s)}, key=len, reverse=True
    )
    text = _remove_literals(text, literals)
    text = _cut_key_tail(text)
    text = _PRIVATE_KEY.sub(_KEY_MASK, text)
    text = _HEADER.sub(lambda m: m["name"] + MASK, text)
    text = _BEARER.sub(lambda m: m["scheme"] + m["sp"] + MASK, text)
    text = _URL_PASSWORD.sub(lambda m: m["head"] + ":" + MASK + "@", text)
    text = _SIGNED_QUERY.sub(lambda m: m["name"] + "=" + MASK, text)
    text = _PAIR.sub(_pair, text)
    text = _AWS_KEY_ID.sub(MASK, text)
    text = _API_TOKEN.sub(MASK, text)
    text = _BASE64_RUN.sub(lambda m: MASK if _is_random(m[0]) else m[0], text)
    # Again at the end: masking can join two halves of a literal that had a mask between.
    return _remove_literals(text, literals)
