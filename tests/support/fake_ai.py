"""pytest plugin: a real HTTP server on loopback speaking OpenAI's chat-completions protocol.

The AI provider is the one part of the test bed that is faked: each test tells the
server how to answer (:class:`Reply`) and reads back every request it received.

    def test_it_...(fake_ai: FakeAI) -> None:
        fake_ai.answer(FakeAI.rate_limited(retry_after="1"), then=FakeAI.ok("..."))
        ...
        assert len(fake_ai.completions) == 2
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.netfaults import closed_port, speaking_server

MODEL = "fake-model"
HANG_SECONDS = 30.0
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@dataclass(frozen=True)
class Reply:
    """One answer: ``body`` is a dict (sent as JSON), bytes (sent as is) or ``None``
    (a chat completion saying ``text``); ``hang`` never answers."""

    status: int = 200
    body: dict[str, Any] | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str = "Cause: the bucket does not exist. Fix: create it."
    hang: bool = False


@dataclass(frozen=True)
class Seen:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def _error(status: int, message: str, code: str | None, kind: str) -> Reply:
    return Reply(status, {"error": {"message": message, "type": kind, "code": code}})


class FakeAI:
    """The server's script and its record of requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._replies: deque[Reply] = deque()
        self._then = self.ok()
        self.models: list[str] | None = [MODEL, "other-model"]
        self.models_reply: Reply | None = None
        self.requests: list[Seen] = []
        self.stop = threading.Event()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def completions(self) -> list[Seen]:
        """The chat-completion requests, in order."""
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def answer(self, *replies: Reply, then: Reply | None = None) -> None:
        """Answer the next completions with ``replies``, then always with ``then``."""
        with self._lock:
            self._replies = deque(replies)
            if then is not None:
                self._then = then
            elif replies:
                self._then = replies[-1]

    def next_reply(self) -> Reply:
        with self._lock:
            return self._replies.popleft() if self._replies else self._then

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.requests.append(seen)

    # The answers real providers give (OpenAI's error shapes).
    @staticmethod
    def ok(text: str = Reply.text) -> Reply:
        return Reply(text=text)

    @staticmethod
    def unauthorized() -> Reply:
        return _error(401, "Incorrect API key provided: sk-ab***yz.", "invalid_api_key",
                      "invalid_request_error")  # fmt: skip

    @staticmethod
    def forbidden() -> Reply:
        return _error(403, "Project does not have access to model `fake-model`",
                      "model_not_found", "invalid_request_error")  # fmt: skip

    @staticmethod
    def model_not_found(model: str = MODEL) -> Reply:
        return _error(404, f"The model `{model}` does not exist or you do not have access to it.",
                      "model_not_found", "invalid_request_error")  # fmt: skip

    @staticmethod
    def rate_limited(retry_after: str | None = "1") -> Reply:
        r = _error(429, "Rate limit reached for requests per min (RPM): Limit 3.",
                   "rate_limit_exceeded", "requests")  # fmt: skip
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return Reply(r.status, r.body, headers)

    @staticmethod
    def quota() -> Reply:
        return _error(429, "You exceeded your current quota, please check your plan and "
                      "billing details.", "insufficient_quota", "insufficient_quota")  # fmt: skip

    @staticmethod
    def overloaded(status: int = 503) -> Reply:
        return _error(status, "The server is overloaded or not ready yet.", None, "server_error")

    @staticmethod
    def hang() -> Reply:
        return Reply(hang=True)

    @staticmethod
    def malformed() -> Reply:
        return Reply(200, b"<html><body>Welcome to nginx!</body></html>",
                     {"Content-Type": "text/html"})  # fmt: skip

    @staticmethod
    def no_choices() -> Reply:
        return Reply(200, {"id": "chatcmpl-1", "object": "chat.completion", "model": MODEL})


def _completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _handler(fake: FakeAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _receive(self) -> Seen:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            seen = Seen(self.command, self.path, dict(self.headers.items()), body)
            fake.record(seen)
            return seen

        def _send(self, reply: Reply) -> None:
            if reply.hang:
                fake.stop.wait(HANG_SECONDS)
                self.close_connection = True
                return
            if isinstance(reply.body, bytes):
                data = reply.body
            else:
                data = json.dumps(reply.body or _completion(reply.text)).encode()
            self.send_response(reply.status)
            headers = {"Content-Type": "application/json", **reply.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._receive()
            if self.path.rstrip("/") != "/v1/models":
                self._send(Reply(404, b"404 page not found", {"Content-Type": "text/plain"}))
            elif fake.models_reply is not None:
                self._send(fake.models_reply)
            elif fake.models is None:
                self._send(Reply(404, b"404 page not found", {"Content-Type": "text/plain"}))
            else:
                data = [{"id": m, "object": "model", "owned_by": "fake"} for m in fake.models]
                self._send(Reply(200, {"object": "list", "data": data}))

        def do_POST(self) -> None:
            self._receive()
            if self.path != "/v1/chat/completions":
                self._send(Reply(404, b"404 page not found", {"Content-Type": "text/plain"}))
            else:
                self._send(fake.next_reply())

    return Handler


@pytest.fixture
def fake_ai(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAI]:
    """A running fake provider at ``fake_ai.base_url``; proxies are cleared so requests
    to it stay on loopback."""
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    fake = FakeAI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.stop.set()  # releases hanging handlers
        server.shutdown()
        server.server_close()


@pytest.fixture
def not_http_port() -> Iterator[int]:
    """A loopback port where an SSH server, not an HTTP one, answers."""
    with speaking_server(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n") as port:
        yield port


@pytest.fixture
def closed_ai_port() -> int:
    """A loopback port nothing listens on."""
    return closed_port()
