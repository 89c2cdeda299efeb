"""The AI assistant against a real HTTP server on loopback speaking chat completions.

Only the provider is faked (tests/support/fake_ai.py); the client, retries, redaction,
settings store and CLI are the real ones. Nothing here leaves loopback.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ctrlops.ai import settings as ai_settings
from ctrlops.ai.client import MAX_ATTEMPTS, AIClient, Completion
from ctrlops.ai.errors import AIError
from ctrlops.ai.prompts import PING
from ctrlops.cli.ai import app
from ctrlops.rclone.providers import DestinationSpec
from ctrlops.services import ai, destinations
from ctrlops.store.db import session
from ctrlops.store.models import Setting
from tests.support.fake_ai import MODEL, FakeAI, Reply
from tests.support.netfaults import closed_port, speaking_server

# The fixtures (fake_ai, not_http_port, closed_ai_port); harmless once conftest has it too.

KEY = "sk-test-Zq8xW3vB9nL2kP7rT5yU1mA4"
runner = CliRunner()


def configure(fake: FakeAI, *, key: str | None = KEY, timeout: float = 3, **kw: Any) -> None:
    fields: dict[str, Any] = {"base_url": fake.base_url, "model": MODEL, "timeout": timeout}
    ai_settings.save(**{**fields, **kw}, api_key=key)


def ask(**client_kw: Any) -> Completion:
    async def go() -> Completion:
        async with AIClient(ai_settings.load(), **client_kw) as c:
            return await c.complete(PING)

    return asyncio.run(go())


def failure(**client_kw: Any) -> AIError:
    with pytest.raises(AIError) as e:
        ask(**client_kw)
    return e.value


# -- the client: every failure has its category, cause and fix ----------------------------


def test_it_gets_an_answer_and_sends_the_key_only_in_the_authorization_header(
    fake_ai: FakeAI,
) -> None:
    configure(fake_ai)
    fake_ai.answer(FakeAI.ok("the bucket is missing"))
    answer = ask()
    assert (answer.text, answer.model, answer.attempts) == ("the bucket is missing", MODEL, 1)
    (seen,) = fake_ai.completions
    assert seen.headers["Authorization"] == f"Bearer {KEY}"
    assert seen.json()["model"] == MODEL
    assert KEY not in seen.body.decode() and KEY not in seen.path
    others = {k: v for k, v in seen.headers.items() if k.lower() != "authorization"}
    assert KEY not in json.dumps(others)


@pytest.mark.parametrize(
    ("reply", "category", "cause", "fix"),
    [
        (FakeAI.unauthorized(), "ai_auth", "refused the API key (401)", "new key"),
        (FakeAI.forbidden(), "ai_model", "may not use it (403)", "--model"),
        (FakeAI.model_not_found(), "ai_model", "'fake-model' does not exist", "--model"),
        (FakeAI.quota(), "ai_quota", "out of quota", "billing"),
        (FakeAI.malformed(), "ai_malformed", "not JSON", "base URL"),
        (FakeAI.no_choices(), "ai_malformed", "no choices[0].message.content", "base URL"),
        (Reply(400, {"error": {"message": "context too long"}}), "ai_request", "context too long",
         "chat completions"),
    ],
)  # fmt: skip
def test_it_names_each_refusal_without_retrying(
    fake_ai: FakeAI, reply: Reply, category: str, cause: str, fix: str
) -> None:
    configure(fake_ai)
    fake_ai.answer(reply)
    e = failure()
    assert e.category == category
    assert cause in e.cause and fix in e.fix
    assert len(fake_ai.completions) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_it_retries_an_overloaded_provider_a_bounded_number_of_times(
    fake_ai: FakeAI, status: int
) -> None:
    configure(fake_ai)
    fake_ai.answer(FakeAI.overloaded(status))
    e = failure(backoff=0.01)
    assert (e.category, e.status) == ("ai_overloaded", status)
    assert "status page" in e.fix
    assert len(fake_ai.completions) == MAX_ATTEMPTS


def test_it_recovers_when_an_overloaded_provider_comes_back(fake_ai: FakeAI) -> None:
    configure(fake_ai)
    fake_ai.answer(FakeAI.overloaded(503), then=FakeAI.ok("fine"))
    assert ask(backoff=0.01).attempts == 2
    assert len(fake_ai.completions) == 2


def test_it_honours_retry_after_then_succeeds(fake_ai: FakeAI) -> None:
    configure(fake_ai)
    fake_ai.answer(FakeAI.rate_limited(retry_after="1"), then=FakeAI.ok("fine"))
    answer = ask()
    assert (answer.text, answer.attempts) == ("fine", 2)
    assert len(fake_ai.completions) == 2


def test_it_stops_retrying_a_rate_limit_after_bounded_attempts(fake_ai: FakeAI) -> None:
    configure(fake_ai)
    fake_ai.answer(FakeAI.rate_limited(retry_after="0"))
    e = failure()
    assert e.category == "ai_rate_limit"
    assert "try again" in e.fix
    assert len(fake_ai.completions) == MAX_ATTEMPTS


def test_it_does_not_sleep_through_a_retry_after_beyond_its_bound(fake_ai: FakeAI) -> None:
    configure(fake_ai)
    fake_ai.answer(FakeAI.rate_limited(retry_after="3600"))
    e = failure()
    assert e.category == "ai_rate_limit" and "wait 3600 s" in e.cause
    assert len(fake_ai.completions) == 1


def test_it_never_retries_when_out_of_quota(fake_ai: FakeAI) -> None:
    configure(fake_ai)
    fake_ai.answer(Reply(429, FakeAI.quota().body, {"Retry-After": "0"}))
    assert failure().category == "ai_quota"
    assert len(fake_ai.completions) == 1


def test_it_gives_up_on_a_provider_that_hangs(fake_ai: FakeAI) -> None:
    configure(fake_ai, timeout=1)
    fake_ai.answer(FakeAI.hang())
    e = failure()
    assert e.category == "ai_timeout"
    assert "within 1 s" in e.cause and "--timeout" in e.fix


def test_it_names_a_port_nothing_listens_on(fake_ai: FakeAI, closed_ai_port: int) -> None:
    configure(fake_ai, base_url=f"http://127.0.0.1:{closed_ai_port}/v1")
    e = failure()
    assert (e.category, e.reason) == ("ai_network", "refused")
    assert "connection refused" in e.cause and "port" in e.fix


def test_it_names_a_port_that_does_not_speak_http(fake_ai: FakeAI, not_http_port: int) -> None:
    configure(fake_ai, base_url=f"http://127.0.0.1:{not_http_port}/v1")
    e = failure()
    assert (e.category, e.reason) == ("ai_network", "protocol")
    assert "not a web API" in e.fix


def test_it_names_https_to_a_plain_http_server(fake_ai: FakeAI) -> None:
    configure(fake_ai, base_url=f"https://127.0.0.1:{fake_ai.port}/v1")
    e = failure()
    assert (e.category, e.reason) == ("ai_network", "tls")
    assert "http://" in e.fix


def test_it_names_a_proxy_that_refuses(fake_ai: FakeAI, monkeypatch: pytest.MonkeyPatch) -> None:
    refusal = b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
    with speaking_server(refusal) as port:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
        # The name is only ever sent to the proxy (CONNECT), never resolved here.
        configure(fake_ai, base_url="https://ai.example.invalid/v1")
        e = failure()
    assert (e.category, e.reason) == ("ai_network", "proxy")
    assert "HTTPS_PROXY" in e.fix


def test_it_names_a_proxy_that_is_down(fake_ai: FakeAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed_port()}")
    configure(fake_ai, base_url="https://ai.example.invalid/v1")
    e = failure()
    assert (e.category, e.reason) == ("ai_network", "proxy")


def test_it_names_a_base_url_that_is_not_the_api(fake_ai: FakeAI) -> None:
    configure(fake_ai, base_url=f"http://127.0.0.1:{fake_ai.port}/api")
    e = failure()
    assert (e.category, e.status) == ("ai_endpoint", 404)
    assert "/v1" in e.fix


def test_it_refuses_a_remote_provider_without_a_key_before_sending_anything(
    fake_ai: FakeAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A guard: were a request attempted, it would hit a dead proxy, not the internet.
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{closed_port()}")
    configure(fake_ai, key=None, base_url="https://ai.example.invalid/v1")
    e = failure()
    assert e.category == "ai_no_key" and "CTRLOPS_AI_API_KEY" in e.fix


def test_it_asks_for_a_key_when_a_local_provider_wants_one(fake_ai: FakeAI) -> None:
    configure(fake_ai, key=None)
    fake_ai.answer(FakeAI.unauthorized())
    e = failure()
    assert e.category == "ai_no_key"
    assert "Authorization" not in fake_ai.completions[0].headers


# -- the service: the offline diagnosis always comes back; no secret leaves ---------------

OFFLINE = {"category": "bucket_missing", "cause": "the bucket does not exist", "fix": "create it"}
CONTEXT = {"provider": "aws", "mode": "copy", "schedule": "0 2 * * *", "server_os": "Debian 12"}


def test_it_returns_the_offline_diagnosis_with_the_answer(fake_ai: FakeAI) -> None:
    configure(fake_ai)
    fake_ai.answer(FakeAI.ok("Create the bucket."))
    out = asyncio.run(ai.explain("ERROR : bucket missing", CONTEXT, OFFLINE))
    assert out == {"offline": OFFLINE, "ai": {"ok": True, "answer": "Create the bucket.",
                                               "model": MODEL}}  # fmt: skip
    user = fake_ai.completions[0].json()["messages"][1]["content"]
    assert "Debian 12" in user and "bucket_missing" in user and "ERROR : bucket missing" in user


@pytest.mark.parametrize(
    ("reply", "category"),
    [(FakeAI.quota(), "ai_quota"), (FakeAI.unauthorized(), "ai_auth"),
     (FakeAI.malformed(), "ai_malformed")],
)  # fmt: skip
def test_it_returns_the_offline_diagnosis_when_the_ai_fails(
    fake_ai: FakeAI, reply: Reply, category: str
) -> None:
    configure(fake_ai)
    fake_ai.answer(reply)
    out = asyncio.run(ai.explain("ERROR : x", CONTEXT, OFFLINE))
    assert out["offline"] == OFFLINE
    assert out["ai"]["ok"] is False and out["ai"]["category"] == category
    assert out["ai"]["cause"] and out["ai"]["fix"]


def test_it_returns_the_offline_diagnosis_when_nothing_is_configured() -> None:
    out = asyncio.run(ai.explain("ERROR : x", {}, OFFLINE))
    assert out["offline"] == OFFLINE and out["ai"]["category"] == "ai_config"


AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AKIA = "AKIAIOSFODNN7EXAMPLE"
BEARER = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.tokensig"
URL_PASSWORD = "Tr0ub4dor-and-3"
DEST_SECRET = "correct-horse-battery-staple-42"
PLANTED_LOG = f"""\
2024/05/01 02:00:00 DEBUG : rclone: Version "v1.68.1" starting with parameters ["rclone" "copy"]
2024/05/01 02:00:00 DEBUG : Using config file from "/home/backup/.ctrlops/jobs/j1/rclone.conf"
[dest]
type = s3
provider = AWS
access_key_id = {AKIA}
secret_access_key = {AWS_SECRET}
2024/05/01 02:00:01 DEBUG : HTTP REQUEST: Authorization: Bearer {BEARER}
2024/05/01 02:00:01 DEBUG : webhook https://ops:{URL_PASSWORD}@hooks.example.com/notify
2024/05/01 02:00:01 DEBUG : key in use {AKIA} with {DEST_SECRET}
2024/05/01 02:00:02 ERROR : S3 bucket backups: error reading source root directory: \
NoSuchBucket: The specified bucket does not exist
"""


def test_it_sends_no_planted_secret_to_the_provider(fake_ai: FakeAI) -> None:
    destinations.add(DestinationSpec(name="d", provider="minio", bucket="backups",
                                     endpoint="http://127.0.0.1:9000", access_key_id="MINIOKEY1"),
                     DEST_SECRET)  # fmt: skip
    configure(fake_ai)
    offline = {**OFFLINE, "evidence": [f"secret_access_key = {AWS_SECRET}", f"{AKIA} failed"]}
    context = {**CONTEXT, "note": f"Bearer {BEARER}"}
    out = asyncio.run(ai.explain(PLANTED_LOG, context, offline))
    assert out["ai"]["ok"], out
    assert fake_ai.requests
    for seen in fake_ai.requests:
        sent = (
            seen.body.decode()
            + seen.path
            + json.dumps({k: v for k, v in seen.headers.items() if k.lower() != "authorization"})
        )
        for secret in (AWS_SECRET, AKIA, BEARER, URL_PASSWORD, DEST_SECRET, "MINIOKEY1", KEY):
            assert secret not in sent, secret
    user = fake_ai.completions[0].json()["messages"][1]["content"]
    assert "NoSuchBucket: The specified bucket does not exist" in user
    assert "provider = AWS" in user and "********" in user


def test_it_stores_the_api_key_encrypted(fake_ai: FakeAI, ctrlops_home: Path) -> None:
    configure(fake_ai)
    with session() as s:
        row = s.get(Setting, "ai")
        assert row is not None and row.secret_enc and KEY not in json.dumps(row.value)
    stored = b"".join(p.read_bytes() for p in ctrlops_home.glob("ctrlops.db*"))
    assert stored and KEY.encode() not in stored
    assert ai_settings.load().api_key == KEY


# -- the CLI: ai config / ai doctor ---------------------------------------------------------


def invoke(*args: str, **kw: Any) -> tuple[int, Any, str]:
    r = runner.invoke(app, [*args, "--json"], **kw)
    try:
        return r.exit_code, json.loads(r.stdout), r.stderr
    except json.JSONDecodeError:
        raise AssertionError(f"not JSON (exit {r.exit_code}): {r.output!r}") from None


def test_it_configures_with_the_key_from_the_environment(fake_ai: FakeAI) -> None:
    code, out, err = invoke("config", "--base-url", fake_ai.base_url + "/chat/completions",
                            "--model", MODEL, "--timeout", "5",
                            env={"CTRLOPS_AI_API_KEY": KEY})  # fmt: skip
    assert code == 0, err
    assert out == {"base_url": fake_ai.base_url, "model": MODEL, "timeout": 5.0,
                   "api_key": "********", "configured": True}  # fmt: skip
    assert KEY not in json.dumps(out) + err
    assert ai_settings.load().api_key == KEY


def test_it_configures_with_the_key_from_stdin_and_shows_it_masked(fake_ai: FakeAI) -> None:
    code, _, err = invoke("config", "--api-key-stdin", input=KEY + "\n",
                          env={"CTRLOPS_AI_API_KEY": None})  # fmt: skip
    assert code == 0, err
    assert ai_settings.load().api_key == KEY
    code, shown, _ = invoke("config")
    assert code == 0 and shown["api_key"] == "********" and shown["configured"] is False


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--base-url", "ftp://ai.example.com/v1"], "base_url"),
        (["--base-url", "not a url"], "base_url"),
        (["--base-url", "https://user:pw@ai.example.com/v1"], "base_url"),
        (["--model", " "], "model"),
        (["--timeout", "0"], "timeout"),
        (["--api-key-stdin"], "api_key"),
    ],
)
def test_it_refuses_bad_input_with_exit_2_naming_the_field(args: list[str], field: str) -> None:
    code, out, err = invoke("config", *args, input="", env={"CTRLOPS_AI_API_KEY": None})
    assert code == 2, (out, err)
    assert out["ok"] is False and out["error"]["cause"].startswith(f"{field}:")
    assert f"{field}:" in err
    assert ai.show()["base_url"] is None and ai.show()["api_key"] is None


def test_it_passes_the_doctor(fake_ai: FakeAI) -> None:
    configure(fake_ai)
    code, out, err = invoke("doctor")
    assert code == 0, (out, err)
    assert out["ok"] is True and out["step"] is None
    assert [s["step"] for s in out["steps"]] == ["settings", "base_url", "reachable", "key",
                                                 "model", "completion"]  # fmt: skip
    assert all(s["ok"] for s in out["steps"])
    assert out["settings"]["api_key"] == "********" and KEY not in json.dumps(out)


def test_it_passes_the_doctor_for_a_provider_without_a_model_list(fake_ai: FakeAI) -> None:
    configure(fake_ai, key=None)
    fake_ai.models = None
    code, out, _ = invoke("doctor")
    assert code == 0, out
    assert [s["ok"] for s in out["steps"]] == [True, True, True, None, None, True]


def test_it_fails_the_doctor_at_each_step(
    fake_ai: FakeAI,
    closed_ai_port: int,
) -> None:
    def doctor() -> dict[str, Any]:
        code, out, _ = invoke("doctor")
        assert code == 1, out
        assert out["ok"] is False and out["cause"] and out["fix"]
        return out

    assert (doctor()["step"], doctor()["category"]) == ("settings", "ai_config")

    configure(fake_ai, base_url=f"http://127.0.0.1:{closed_ai_port}/v1")
    out = doctor()
    assert (out["step"], out["category"]) == ("reachable", "ai_network")

    configure(fake_ai)
    fake_ai.models_reply = FakeAI.unauthorized()
    out = doctor()
    assert (out["step"], out["category"]) == ("key", "ai_auth")

    fake_ai.models_reply = None
    configure(fake_ai, model="gpt-nonexistent")
    out = doctor()
    assert (out["step"], out["category"]) == ("model", "ai_model")
    assert "fake-model" in out["cause"]

    configure(fake_ai)
    fake_ai.answer(FakeAI.quota())
    out = doctor()
    assert (out["step"], out["category"]) == ("completion", "ai_quota")
    assert [s["ok"] for s in out["steps"]] == [True, True, True, True, True, False]


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a network namespace")
def test_it_names_a_host_name_that_does_not_exist(ctrlops_home: Path) -> None:
    # A private network namespace whose only resolver answers NXDOMAIN: the lookup is
    # real (glibc, resolv.conf) and no packet can leave loopback.
    ns = f"ctrlops-ai-dns-{os.getpid()}"
    etc = Path("/etc/netns") / ns
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    ai_settings.save(base_url="https://no-such-host.example.com/v1", model=MODEL, api_key=KEY)
    root = Path(__file__).parents[2]
    script = "import asyncio, json; from ctrlops.services import ai; "
    script += "print(json.dumps(asyncio.run(ai.doctor())))"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
        dns = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "tests.support.netfaults"], cwd=root
        )
        try:
            out = subprocess.run(
                ["ip", "netns", "exec", ns, sys.executable, "-c", script],
                capture_output=True, text=True, timeout=60, cwd=root,
                env={**env, "CTRLOPS_HOME": str(ctrlops_home)},
            )  # fmt: skip
        finally:
            dns.terminate()
            dns.wait(10)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(etc, ignore_errors=True)
    r = json.loads(out.stdout)
    assert (r["step"], r["category"]) == ("reachable", "ai_network"), r
    assert "could not be resolved" in r["cause"] and "DNS" in r["cause"]
