"""``ctrlops dest ...`` as a user runs it (the sub-app, until it is registered in app.py)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ctrlops.cli.destinations import app
from ctrlops.embedded.s3 import LocalS3
from ctrlops.server.spec import ServerSpec
from ctrlops.services import destinations, servers
from ctrlops.store.db import session
from ctrlops.store.models import Destination, Job, Server
from tests.support.s3 import RCLONE

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
MINIO = ["--provider", "minio", "--endpoint", "http://127.0.0.1:9000", "--bucket", "backups",
         "--access-key-id", "AKIAEXAMPLE"]  # fmt: skip

runner = CliRunner()


def test_it_adds_with_the_secret_from_the_environment() -> None:
    r = runner.invoke(app, ["add", "nas", *MINIO, "--prefix", "srv/", "--json"],
                      env={"CTRLOPS_SECRET_ACCESS_KEY": SECRET})  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["name"], out["prefix"], out["endpoint"]) == ("nas", "srv", "http://127.0.0.1:9000")
    assert out["secret_access_key"] == "********"
    assert SECRET not in r.output
    assert destinations.load("nas")[1] == SECRET
    with session() as s:
        stored = s.query(Destination).one()
        assert SECRET.encode() not in stored.secret_enc


def test_it_adds_with_the_secret_from_stdin() -> None:
    r = runner.invoke(app, ["add", "nas", *MINIO, "--secret-stdin"], input=SECRET + "\n",
                      env={"CTRLOPS_SECRET_ACCESS_KEY": None})  # fmt: skip
    assert r.exit_code == 0, r.output
    assert destinations.load("nas")[1] == SECRET


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--provider", "r2", "--bucket", "backups", "--access-key-id", "K"], "account_id"),
        (["--provider", "aws", "--region", "mars-1", "--bucket", "b1b", "--access-key-id", "K"],
         "region"),
        (["--provider", "ftp", "--bucket", "backups", "--access-key-id", "K"], "provider"),
        ([*MINIO, "--prefix", "/abs"], "prefix"),
        ([*MINIO[:-4], "--bucket", "Bad_Bucket", "--access-key-id", "K"], "bucket"),
    ],
)  # fmt: skip
def test_it_refuses_bad_input_with_exit_2_and_stores_nothing(args: list[str], field: str) -> None:
    r = runner.invoke(app, ["add", "d1", *args], env={"CTRLOPS_SECRET_ACCESS_KEY": SECRET})
    assert r.exit_code == 2, r.output
    assert f"{field}:" in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2  # "error: field: reason" (+ a fix line)
    assert destinations.list_all() == []


def test_it_refuses_a_missing_secret_without_a_terminal() -> None:
    r = runner.invoke(app, ["add", "nas", *MINIO], env={"CTRLOPS_SECRET_ACCESS_KEY": None})
    assert r.exit_code == 2
    assert "secret_access_key" in r.stderr
    assert destinations.list_all() == []


def test_it_refuses_a_name_taken() -> None:
    env = {"CTRLOPS_SECRET_ACCESS_KEY": SECRET}
    assert runner.invoke(app, ["add", "nas", *MINIO], env=env).exit_code == 0
    r = runner.invoke(app, ["add", "nas", *MINIO], env=env)
    assert r.exit_code == 2 and "name:" in r.stderr


def test_it_shows_and_lists_with_the_secret_masked() -> None:
    runner.invoke(app, ["add", "nas", *MINIO], env={"CTRLOPS_SECRET_ACCESS_KEY": SECRET})
    shown = runner.invoke(app, ["show", "nas", "--json"])
    assert shown.exit_code == 0
    info = json.loads(shown.stdout)
    assert info["secret_access_key"] == "********"
    assert info["access_key_id"] == "AKIAEXAMPLE"
    listed = runner.invoke(app, ["list", "--json"])
    assert [d["name"] for d in json.loads(listed.stdout)] == ["nas"]
    for r in (shown, listed, runner.invoke(app, ["show", "nas"]), runner.invoke(app, ["list"])):
        assert SECRET not in r.output
    missing = runner.invoke(app, ["show", "nope"])
    assert missing.exit_code == 2 and "dest:" in missing.stderr


def test_it_removes_only_what_no_job_uses() -> None:
    env = {"CTRLOPS_SECRET_ACCESS_KEY": SECRET}
    runner.invoke(app, ["add", "used", *MINIO], env=env)
    runner.invoke(app, ["add", "spare", *MINIO], env=env)
    with session() as s:
        server = Server(name="web1", kind="local", facts={})
        dest = s.query(Destination).filter_by(name="used").one()
        s.add(Job(name="nightly", uid="u1", server=server, destination=dest))
    refused = runner.invoke(app, ["remove", "used"])
    assert refused.exit_code == 2 and "nightly" in refused.stderr
    assert runner.invoke(app, ["remove", "spare", "--json"]).exit_code == 0
    assert [d["name"] for d in destinations.list_all()] == ["used"]


@pytest.fixture
def local_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """This machine as a server, with the venv's rclone where the runner looks for it."""
    home = tmp_path / "home"
    (home / ".ctrlops" / "bin").mkdir(parents=True)
    (home / ".ctrlops" / "bin" / "rclone").symlink_to(RCLONE)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    servers.add(ServerSpec(name="here", local=True))
    yield "here"
    asyncio.run(servers.close_all())


def test_it_tests_a_destination_from_the_server(
    s3: LocalS3, bucket: str, local_server: str
) -> None:
    base = ["--provider", "s3", "--endpoint", s3.endpoint, "--bucket", bucket]
    for name, who in (("good", s3.rw), ("readonly", s3.ro)):
        r = runner.invoke(app, ["add", name, *base, "--access-key-id", who.access_key_id],
                          env={"CTRLOPS_SECRET_ACCESS_KEY": who.secret_access_key})  # fmt: skip
        assert r.exit_code == 0, r.output

    good = runner.invoke(app, ["test", "good", "--server", local_server, "--json"])
    assert good.exit_code == 0, good.output
    out = json.loads(good.stdout)
    assert {"ok", "step", "category", "cause", "fix", "raw"} <= set(out)
    assert out["ok"] is True and out["category"] is None

    bad = runner.invoke(app, ["test", "readonly", "--server", local_server, "--json"])
    assert bad.exit_code == 1, bad.output
    out = json.loads(bad.stdout)
    assert (out["ok"], out["step"], out["category"]) == (False, "write", "access_denied")
    assert s3.ro.secret_access_key not in bad.output

    human = runner.invoke(app, ["test", "readonly", "--server", local_server])
    assert human.exit_code == 1
    assert "access_denied" in human.stdout and "fix:" in human.stdout


def test_it_reports_an_unreachable_server_in_the_same_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runner.invoke(app, ["add", "nas", *MINIO], env={"CTRLOPS_SECRET_ACCESS_KEY": SECRET})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: no sshd there
    monkeypatch.setenv("CTRLOPS_CONNECT_TIMEOUT", "3")
    servers.add(ServerSpec(name="gone", host="127.0.0.1", port=port, user="nobody"))
    r = runner.invoke(app, ["test", "nas", "--server", "gone", "--json"])
    assert r.exit_code == 1, r.output
    out = json.loads(r.stdout)
    assert (out["ok"], out["step"]) == (False, "server")
    assert out["cause"] and out["fix"]
    assert destinations.show("nas")["last_test"] == {}  # not the destination's failure
    unknown = runner.invoke(app, ["test", "nas", "--server", "nope"])
    assert unknown.exit_code == 2
