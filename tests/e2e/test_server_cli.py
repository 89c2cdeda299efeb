"""`ctrlops server ...` as a user runs it: exit codes, JSON shapes, refusals, quoting."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctrlops.errors import InputError
from ctrlops.server.spec import parse_spec
from tests.support.cli import ctrlops, ctrlops_json
from tests.support.sshd import SSHBed

HOSTILE = [
    "a b",
    "x;reboot",
    "$(touch /tmp/ctrlops-pwned)",
    "`id`",
    "a'b",
    'a"b',
    "-oProxyCommand=sh",
]


def ssh_args(bed: SSHBed, key: Path | None = None) -> list[str]:
    return ["--host", bed.host, "--port", str(bed.port), "--user", bed.user,
            "--key", str(key or bed.key)]  # fmt: skip


def test_it_adds_checks_lists_and_removes_a_server(sshd: SSHBed) -> None:
    code, out = ctrlops_json("server", "add", "web1", *ssh_args(sshd))
    assert code == 0, out
    assert out["check"]["ok"] is True
    assert out["server"]["host_key_fingerprint"].startswith("SHA256:")

    code, check = ctrlops_json("server", "check", "web1")
    assert code == 0
    assert {"ok", "layer", "cause", "fix", "facts", "banners"} <= check.keys()
    assert check["facts"]["user"] == sshd.user

    code, listed = ctrlops_json("server", "list")
    assert [s["name"] for s in listed] == ["web1"]

    assert ctrlops("server", "remove", "web1").returncode == 0
    assert ctrlops_json("server", "list")[1] == []


def test_it_exits_1_with_cause_and_fix_when_the_server_is_unreachable(sshd: SSHBed) -> None:
    r = ctrlops("server", "add", "web1", "--host", "127.0.0.1", "--port", "1")
    assert r.returncode == 1
    assert "refused the connection" in r.stdout
    assert "fix:" in r.stdout


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["bad;name", "--local"], "name"),
        (["$(id)", "--local"], "name"),
        (["web1", "--host", "a b"], "--host"),
        (["web1", "--host", "x;reboot"], "--host"),
        (["web1", "--host", "-oProxyCommand=sh"], "--host"),
        (["web1", "--host", "h", "--user", "ro`id`t"], "--user"),
        (["web1", "--host", "h", "--port", "70000"], "--port"),
        (["web1", "--host", "h", "--key", "/nonexistent/key"], "--key"),
        (["web1", "--host", "h", "--jump", "a b@c"], "--jump"),
        (["web1", "--local", "--host", "h"], "--local"),
        (["web1"], "--host"),
    ],
)
def test_it_refuses_bad_input_with_exit_2_naming_the_field(args: list[str], field: str) -> None:
    r = ctrlops("server", "add", *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert field in r.stderr
    assert ctrlops_json("server", "list")[1] == []


def test_it_refuses_an_unknown_server_with_exit_2() -> None:
    r = ctrlops("server", "check", "nope")
    assert r.returncode == 2
    assert "no server named 'nope'" in r.stderr


def test_it_never_hands_a_key_path_to_a_shell(sshd: SSHBed, tmp_path: Path) -> None:
    odd = tmp_path / "my key's $(touch pwned) `touch pwned`; touch pwned"
    shutil.copy(sshd.key, odd)
    odd.chmod(0o600)
    code, out = ctrlops_json("server", "add", "web1", *ssh_args(sshd, odd), cwd=tmp_path)
    assert code == 0, out
    assert out["server"]["key"] == str(odd)
    assert not (tmp_path / "pwned").exists()


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=80))
def test_it_accepts_a_value_exactly_or_refuses_it(value: str) -> None:
    for field in ("name", "host", "user"):
        fields = {"name": "n", "host": "h", field: value}
        try:
            spec = parse_spec(**fields)
        except InputError as e:
            assert e.field in {"name", "--host", "--user"}
            continue
        kept = getattr(spec, field)
        # Accepted values carry no shell metacharacter and round-trip (IPs normalised).
        assert not set(kept) & set(" \t\n;&|$`'\"\\<>(){}*?!#~")
        assert kept == value or field == "host"


def test_hostile_names_are_refused_before_anything_is_stored() -> None:
    for bad in HOSTILE:
        r = ctrlops("server", "add", bad, "--local")
        assert r.returncode == 2
    assert ctrlops_json("server", "list")[1] == []
