"""The web app against its own OpenAPI schema (schemathesis, in process) on a real store.

Every operation the app declares is one test that calls it with generated data twice:
as a stranger (no session), then as the logged-in admin (session cookie and CSRF token,
obtained through the real login route). Nobody ever gets a 5xx; a stranger is refused
everything but the login page, and the store, the server's crontab and its job files stay
as they were. The store is realistic: server ``web1`` on the real sshd, destination
``store`` on the real S3 and a deployed job, and generated values are mixed with those
names (and with forms the app accepts, one field at a time made wrong) so routes with
path parameters hit real rows as well as missing ones.

Responses are checked with schemathesis' ``not_a_server_error`` only: the routes answer
HTML pages and htmx partials, and FastAPI's generated response schemas (``{}`` as
``application/json``) describe nothing, so schema conformance would check nothing real.

Beside the schema run, a plain walk of ``app.routes`` makes a new route that forgets the
session or the CSRF check fail the suite, and the login rate limit is checked in process.
"""

from __future__ import annotations

import copy
import math
import os
import re
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests
import schemathesis
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

from ctrlops import paths, schedule
from ctrlops.errors import CtrlopsError
from ctrlops.rclone.providers import PROVIDERS
from ctrlops.services import jobs
from ctrlops.services.monitor import Monitor
from ctrlops.web import security
from ctrlops.web.app import create_app
from ctrlops.web.routes import jobs as job_routes
from tests.support.jobs import Bed, add_job, run

PASSWORD = "correct horse battery staple"
JOB = "nightly"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Fixes that act on this machine's cron daemon (shared with the rest of the suite) are
# never sent with a real server name; the others are idempotent on the test user.
SAFE_FIXES = ("reconnect", "redeploy", "install-rclone")
MACHINE_FIXES = frozenset({"install-cron", "start-cron"})
# A schedule that can never fire while the test runs: jobs the fuzzer adds stay manual.
NEVER = "0 3 1 1 *"
# Small enough for the whole file to take well under two minutes on two CPUs; raise it
# (CTRLOPS_SCHEMA_EXAMPLES=500) for a deeper hunt on a workstation.
MAX_EXAMPLES = int(os.environ.get("CTRLOPS_SCHEMA_EXAMPLES", "10"))
FORM_FACTOR = 3
# Event streams never end by themselves: read them this long, then keep what arrived.
STREAMS = frozenset({"/events"})
STREAM_SECONDS = 0.5
# Anything else that takes longer is a hang, not a slow answer.
REQUEST_SECONDS = 90.0

FORM = "application/x-www-form-urlencoded"
# Routes that still read their form by hand have no body in the schema. Until they
# declare it (as routes/servers.py does), describe it from the module's FIELDS so the
# generated data reaches them too; a declared body is never replaced.
UNDECLARED_FORMS = {("post", "/jobs"): job_routes.FIELDS}


@dataclass(frozen=True)
class Seed:
    """A request that once gave a 5xx, replayed as the admin on every run.

    ``bug`` names the fix still missing in a file outside the web layer; such a seed is a
    strict xfail (it flips the day the fix lands) and ``hits`` keeps the fuzz run from
    failing on the same bug meanwhile.
    """

    label: str
    request: dict[str, Any]
    bug: str = ""
    hits: Callable[[Case], bool] = lambda case: False


def _form_value(case: Case, key: str) -> str:
    return str(case.body.get(key, "")) if isinstance(case.body, dict) else ""


SEEDS = [
    Seed(
        "POST /servers",
        {"body": {"name": "k1", "host": "127.0.0.1", "key": "~no-such-user/id"}},
    ),
]


def _with_forms(app_schema: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(app_schema)  # the app caches its own
    for (method, path), fields in UNDECLARED_FORMS.items():
        op = schema["paths"][path][method]
        if "requestBody" not in op:
            props = {f: {"type": "string"} for f in fields}
            form = {"schema": {"type": "object", "properties": props}}
            op["requestBody"] = {"content": {FORM: form}}
    return schema


def _collection_schema() -> dict[str, Any]:
    """The app's schema (and the forms it lacks), from an app in a throwaway home."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        mock.patch.dict(os.environ, {"CTRLOPS_HOME": tmp, "CTRLOPS_DATABASE_URL": ""}),
    ):
        return _with_forms(create_app().openapi())


# The schema depends on the routes only, not on the store: built once, loaded per test.
APP_SCHEMA = _collection_schema()
OPERATIONS = [
    f"{method.upper()} {path}" for path, ops in APP_SCHEMA["paths"].items() for method in ops
]


def _csrf_in(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(app: FastAPI, password: str = PASSWORD) -> tuple[str, str]:
    """Log in through the real form; return the session cookie and the page's CSRF token."""
    with asgi.get_client(app) as client:
        token = _csrf_in(client.get("/login").text)
        done = client.post(
            "/login", data={"csrf_token": token, "password": password}, allow_redirects=False
        )
        assert (done.status_code, done.headers.get("location")) == (303, "/"), done.text
        # The login starts a fresh session: the token to send is the one it renders next.
        token = _csrf_in(client.get("/login").text)
        return client.cookies["ctrlops_session"], token


Answer = requests.Response | schemathesis.Response


def _header(response: Answer, name: str) -> str | None:
    value = response.headers.get(name)  # schemathesis keeps a list per (lower-case) name
    return value[0] if isinstance(value, list) else value


def sent_to_login(response: Answer) -> bool:
    if response.status_code == 401 and _header(response, "hx-redirect") == "/login":
        return True
    return response.status_code == 303 and _header(response, "location") == "/login"


def refused(response: Answer) -> bool:
    """True when the app turned the request away for want of a session or a CSRF token."""
    return response.status_code in (401, 403) or sent_to_login(response)


def csrf_refused(response: Answer) -> bool:
    return response.status_code == 403 and "CSRF" in response.text


def _form_fields(path: str) -> tuple[str, ...]:
    """The fields of the form the schema gives ``POST path`` (none without one)."""
    body = APP_SCHEMA["paths"].get(path, {}).get("post", {}).get("requestBody", {})
    schema = body.get("content", {}).get(FORM, {}).get("schema", {})
    if "$ref" in schema:
        schema = APP_SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return tuple(schema.get("properties", {}))


@dataclass(frozen=True)
class Real:
    """Real values for one operation: ``fields[place][name]`` to mix into generated data,
    and forms the app accepts as they are (``valid``), to vary one field at a time."""

    fields: dict[str, dict[str, list[str]]]
    valid: list[dict[str, str]]
    form_fields: tuple[str, ...] = ()  # every field the schema gives the form


@dataclass
class Site:
    """The app on a realistic store, and the real names to mix into generated data."""

    app: FastAPI
    schema: Any
    bed: Bed
    source: Path
    runs: list[str] = field(default_factory=list)

    def real(self, path: str) -> Real:
        """Real values for the operation at ``path`` (only names sure to exist)."""
        bed, sshd, s3 = self.bed, self.bed.sshd, self.bed.s3
        owner = {"servers": bed.server, "jobs": JOB, "destinations": bed.dest}
        section = path.strip("/").split("/")[0]
        valid = {
            "/login": [{"password": PASSWORD}],
            "/servers": [
                {"name": "new-1", "host": sshd.host, "port": str(sshd.port), "user": sshd.user,
                 "key": str(sshd.key)},
                {"name": "new-2", "local": "on"},
            ],
            "/destinations": [
                {"name": "new-1", "provider": "minio", "bucket": bed.bucket,
                 "endpoint": s3.endpoint, "access_key_id": s3.rw.access_key_id,
                 "secret": s3.rw.secret_access_key},
            ],
            "/jobs": [
                {"name": "new-1", "server": bed.server, "dest": bed.dest,
                 "source": str(self.source), "mode": "copy", "schedule": ""},
            ],
        }  # fmt: skip
        more = {
            "/login": {"password": ["wrong"]},
            "/servers": {"name": [bed.server], "port": ["0", "65536"], "key": ["~no-such-user/id"]},
            "/destinations": {"name": [bed.dest], "provider": list(PROVIDERS)},
            "/jobs": {
                "name": [JOB],
                "source": ["/srv/a\n/srv/b"],
                "mode": ["mirror"],
                "schedule": [NEVER],
            },
        }
        body: dict[str, list[str]] = {}
        for form in valid.get(path, []):
            for key, value in form.items():
                body.setdefault(key, []).append(value)
        for key, values in more.get(path, {}).items():
            body.setdefault(key, []).extend(values)
        fields = {
            "path": {"name": [owner.get(section, "")], "action": list(SAFE_FIXES)},
            "query": {
                "server": [bed.server],
                "run": self.runs,
                "view": ["tab", "overview"],
                "schedule": ["0 2 * * *", "*/15 9-17 * * 1-5"],
            },
            "body": body,
        }
        return Real(fields, valid.get(path, []), _form_fields(path))


@pytest.fixture
def site(bed: Bed, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """The real app (``create_app``) over a store with a server, a destination and a job.

    Its monitor never syncs by itself, so whatever changes in the store a request changed.
    """
    monkeypatch.setenv(security.PASSWORD_ENV, PASSWORD)
    # A manual job: cron never starts it behind the test's back.
    source = bed.tree()
    add_job(bed, JOB, [source])
    app = create_app(monitor=Monitor(interval=math.inf, busy_interval=math.inf))
    schema = schemathesis.openapi.from_dict(copy.deepcopy(APP_SCHEMA))
    schema.app = app
    try:
        yield Site(app, schema, bed, source)
    finally:
        # Ends the app's lifespan: its monitor stops, its backup shells close on their loop.
        asgi.shutdown_lifespans()
        _wait_for_runs(bed)


def _wait_for_runs(bed: Bed) -> None:
    """Let a run started by "Run now" finish before the bed removes its directory."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        busy = subprocess.run(
            ["pgrep", "-u", bed.sshd.user, "-f", "ctrlops-run|rclone"], capture_output=True
        )
        if busy.returncode != 0:
            return
        time.sleep(0.2)


def snapshot(bed: Bed) -> tuple[list[str], str, list[str]]:
    """Everything a request could change: the store, the user's crontab, the job files."""
    with sqlite3.connect(paths.home() / "ctrlops.db") as db:
        rows = list(db.iterdump())
    crontab = subprocess.run(
        ["crontab", "-l", "-u", bed.sshd.user], capture_output=True, text=True
    ).stdout
    root = bed.sshd.home / ".ctrlops" / "jobs"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []
    return rows, crontab, files


def _mix(data: st.DataObject, case: Case, real: Real) -> None:
    """Bring real names into a generated case, so real rows are reached too.

    A form is kept as generated, or replaced by one the app accepts, or by such a form
    with one field generated: a bad value then meets the check of its own field rather
    than the first missing one.
    """
    body = case.body
    if real.valid and isinstance(body, dict):
        ways = ["generated", "valid", "one field off", "one field off"]
        how = data.draw(st.sampled_from(ways), label="form")
        if how != "generated":
            form = dict(data.draw(st.sampled_from(real.valid), label="valid form"))
            if "name" in form and form["name"].startswith("new-"):
                # A fresh name each time, or every valid form after the first is a duplicate.
                form["name"] += str(data.draw(st.integers(0, 99_999), label="name suffix"))
            if how == "one field off":
                keys = sorted({*form, *real.form_fields})
                key = data.draw(st.sampled_from(keys), label="field off")
                odd = [v for v in real.fields["body"].get(key, []) if v != form.get(key)]
                values = [st.text(max_size=40), st.sampled_from(odd or [""])]
                if key in body:
                    values.append(st.just(body[key]))
                form[key] = data.draw(st.one_of(values), label=key)
            body.clear()
            body.update(form)
            return
    places = {"path": case.path_parameters, "query": case.query, "body": body}
    for where, values in places.items():
        if not isinstance(values, dict):
            continue
        for key in list(values):
            choices = real.fields[where].get(key) or []
            if choices and data.draw(st.booleans(), label=f"real {where} {key}"):
                values[key] = data.draw(st.sampled_from(choices), label=f"{where} {key}")


def _made_safe(case: Case) -> None:
    """Keep generated requests from acting on this machine beyond the test's own user."""
    if case.path_parameters and case.path_parameters.get("action") in MACHINE_FIXES:
        case.path_parameters["action"] = "reconnect"
    body = case.body
    if case.operation.path == "/jobs" and isinstance(body, dict):
        # A schedule that parses would put a line in cron; a refused one is kept (it is
        # what the check is for).
        try:
            if schedule.validate(str(body.get("schedule") or "")):
                body["schedule"] = NEVER
        except (CtrlopsError, ValueError):
            pass


def _strategy(operation: Any) -> st.SearchStrategy[Case]:
    return st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )


def _operation(site: Site, label: str) -> Any:
    method, path = label.split(" ", 1)
    return site.schema[path][method]


def _known_bug(case: Case) -> bool:
    return any(seed.bug and seed.hits(case) for seed in SEEDS if seed.label == case.operation.label)


def _timeout(case: Case) -> float:
    return STREAM_SECONDS if case.operation.path in STREAMS else REQUEST_SECONDS


def _check_stranger(case: Case) -> None:
    response = case.call(allow_redirects=False, timeout=_timeout(case))
    case.validate_response(response, checks=[not_a_server_error])
    label = case.operation.label
    if case.method.upper() in STATE_CHANGING:
        assert refused(response), f"{label} let a stranger in: {response.status_code}"
    elif case.operation.path != "/login":
        # A page sends a stranger to log in; a machine endpoint may just say 401/403.
        assert refused(response), f"{label} showed a stranger {response.status_code}"


def _check_admin(case: Case, cookie: str, token: str) -> None:
    response = case.call(
        headers={security.CSRF_HEADER: token},
        cookies={"ctrlops_session": cookie},
        allow_redirects=False,
        timeout=_timeout(case),
    )
    case.validate_response(response, checks=[not_a_server_error])
    if case.operation.path not in ("/login", "/logout"):
        # The session and token were honoured: the run really tested the routes behind them.
        assert not refused(response), f"{case.operation.label}: {response.status_code}"


def _fuzz(operation: Any, real: Real, check: Callable[[Case], None], *, admin: bool) -> None:
    # A form has many fields to get wrong one at a time, and its route no remote work.
    @settings(
        max_examples=MAX_EXAMPLES * (FORM_FACTOR if len(real.form_fields) > 1 else 1),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        case = data.draw(_strategy(operation), label="case")
        _mix(data, case, real)
        if admin:
            _made_safe(case)
            assume(not _known_bug(case))
        check(case)

    fuzz()


@pytest.mark.parametrize("label", OPERATIONS)
def test_nobody_gets_a_server_error_and_a_stranger_changes_nothing(site: Site, label: str) -> None:
    operation = _operation(site, label)
    if any(p.get("name") == "run" for p in operation.definition.raw.get("parameters", [])):
        # A finished run, so the views of one run (log, AI, files) read a real one too.
        site.runs.append(run(jobs.run_now(JOB, wait=True))["id"])
    real = site.real(operation.path)

    before = snapshot(site.bed)
    _fuzz(operation, real, _check_stranger, admin=False)
    assert snapshot(site.bed) == before, f"a stranger's {label} changed something"

    cookie, token = login(site.app)
    _fuzz(operation, real, lambda case: _check_admin(case, cookie, token), admin=True)


@pytest.mark.parametrize(
    "seed",
    [
        pytest.param(
            seed,
            id=f"{seed.label} {i}",
            marks=[pytest.mark.xfail(strict=True, reason=seed.bug)] if seed.bug else [],
        )
        for i, seed in enumerate(SEEDS)
    ],
)
def test_an_input_that_once_gave_a_server_error_gets_none(site: Site, seed: Seed) -> None:
    method, path = seed.label.split(" ", 1)
    case = site.schema[path][method].Case(media_type=FORM, **seed.request)
    cookie, token = login(site.app)
    _check_admin(case, cookie, token)


# --- every route, whatever the schema says ---------------------------------------------


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, a concrete path) for every route the app serves, schema or not (the
    static files aside: a mount has no methods)."""
    out = []
    for route in iter_route_contexts(app.routes):
        methods = getattr(route, "methods", None) or set()
        path = re.sub(r"\{[^}]+\}", "x", getattr(route, "path", ""))
        out += [(m, path) for m in sorted(methods)]
    return out


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    monkeypatch.setenv(security.PASSWORD_ENV, PASSWORD)
    yield create_app(monitor=Monitor(interval=math.inf, busy_interval=math.inf))
    asgi.shutdown_lifespans()


def test_every_state_changing_route_wants_a_session_and_the_csrf_token(app: FastAPI) -> None:
    changing = [(m, p) for m, p in _routes(app) if m in STATE_CHANGING]
    assert ("POST", "/servers") in changing and ("POST", "/login") in changing
    cookie, token = login(app)
    with asgi.get_client(app) as client:
        for method, path in changing:
            client.cookies.clear()
            stranger = client.request(method, path, allow_redirects=False)
            assert refused(stranger), f"{method} {path} let a stranger in"
            assert csrf_refused(stranger), f"{method} {path} skipped the CSRF check"
            for sent in ({}, {security.CSRF_HEADER: "not-the-token"}):
                client.cookies.clear()
                forged = client.request(
                    method, path, headers=sent, cookies={"ctrlops_session": cookie},
                    allow_redirects=False,
                )  # fmt: skip
                assert csrf_refused(forged), f"{method} {path} took a request without the token"
            forged_form = client.request(
                method, path, data={security.CSRF_FIELD: "not-the-token"},
                cookies={"ctrlops_session": cookie}, allow_redirects=False,
            )  # fmt: skip
            assert csrf_refused(forged_form), f"{method} {path} took a form without the token"
        # The same session with its token gets past the checks (so the refusals were theirs).
        for method, path in changing:
            if path == "/logout":
                continue  # it ends the session; tried last below
            client.cookies.clear()
            allowed = client.request(
                method, path, headers={security.CSRF_HEADER: token},
                cookies={"ctrlops_session": cookie}, allow_redirects=False,
            )  # fmt: skip
            assert not csrf_refused(allowed), f"{method} {path} refused the right token"
            assert not sent_to_login(allowed), f"{method} {path} refused the admin's session"
        client.cookies.clear()
        out = client.post(
            "/logout", headers={security.CSRF_HEADER: token},
            cookies={"ctrlops_session": cookie}, allow_redirects=False,
        )  # fmt: skip
        assert sent_to_login(out)


def test_every_page_but_login_turns_a_stranger_away(app: FastAPI) -> None:
    pages = [(m, p) for m, p in _routes(app) if m == "GET"]
    assert ("GET", "/") in pages
    with asgi.get_client(app) as client:
        for method, path in pages:
            client.cookies.clear()
            response = client.request(method, path, allow_redirects=False, timeout=30)
            if path == "/login":
                assert response.status_code == 200
                continue
            assert refused(response), f"{path} answered a stranger {response.status_code}"
            if sent_to_login(response):
                # htmx would swap the login page into a table cell; it must move the window.
                htmx = client.request(
                    method, path, headers={"HX-Request": "true"}, allow_redirects=False
                )
                assert htmx.status_code == 401, path
                assert htmx.headers["hx-redirect"] == "/login", path


def test_the_login_is_rate_limited_per_client_and_frees_up_after_the_window(
    app: FastAPI,
) -> None:
    served = app.state.limiter
    assert (served.limit, served.window) == (5, 60.0)
    now = [1000.0]
    app.state.limiter = security.LoginLimiter(clock=lambda: now[0])  # the same limits
    with asgi.get_client(app) as client:
        token = _csrf_in(client.get("/login").text)

        def attempt(password: str) -> int:
            form = {"csrf_token": token, "password": password}
            return int(client.post("/login", data=form, allow_redirects=False).status_code)

        assert [attempt("nope") for _ in range(6)] == [401] * 5 + [429]
        now[0] += 59
        assert attempt(PASSWORD) == 429  # even the right password waits out the minute
        now[0] += 2
        assert attempt(PASSWORD) == 303
