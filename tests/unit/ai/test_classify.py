"""Naming provider answers: the branches a loopback server cannot easily show."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from ctrlops.ai.classify import from_response, provider_message, retry_after
from ctrlops.ai.settings import check_base_url

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"Retry-After": "Wed, 01 Jan 2025 12:00:30 GMT"}, 30.0),
        ({"Retry-After": "Wed, 01 Jan 2025 11:00:00 GMT"}, 0.0),
        ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_it_reads_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after(httpx.Headers(headers), NOW) == seconds


def test_it_reads_error_bodies_of_several_shapes() -> None:
    assert provider_message(b'{"error": {"message": "m", "code": "c", "type": "t"}}') == (
        "c t",
        "m",
    )
    assert provider_message(b'{"error": "plain"}') == ("", "plain")
    assert provider_message(b'{"detail": "fastapi"}') == ("", "fastapi")
    assert provider_message(b"<html>Bad Gateway</html>") == ("", "<html>Bad Gateway</html>")


def _response(
    status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> httpx.Response:
    request = httpx.Request("POST", "https://ai.example.com/v1/chat/completions")
    return httpx.Response(status, content=body, headers=headers, request=request)


@pytest.mark.parametrize(
    ("status", "body", "category"),
    [
        (429, b'{"error": {"message": "Your credit balance is too low"}}', "ai_quota"),
        (429, b'{"error": {"code": "rate_limit_exceeded"}}', "ai_rate_limit"),
        (404, b'{"error": "model \\"llama3\\" not found, try pulling it first"}', "ai_model"),
        (404, b"404 page not found", "ai_endpoint"),
        (301, b"", "ai_endpoint"),
        (422, b'{"detail": "bad field"}', "ai_request"),
        (529, b'{"error": {"message": "Overloaded"}}', "ai_overloaded"),
    ],
)
def test_it_names_each_status(status: int, body: bytes, category: str) -> None:
    assert from_response(_response(status, body), model="m", has_key=True).category == category


def test_it_says_where_a_redirect_goes() -> None:
    e = from_response(
        _response(308, headers={"Location": "https://new/v1"}), model="m", has_key=True
    )
    assert "https://new/v1" in e.cause


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://api.openai.com/v1/", "https://api.openai.com/v1"),
        ("https://api.openai.com/v1/chat/completions", "https://api.openai.com/v1"),
        ("http://127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1"),
    ],
)
def test_it_normalises_the_base_url(given: str, stored: str) -> None:
    assert check_base_url(given) == stored
