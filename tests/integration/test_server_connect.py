"""`server check` against a real sshd and real sockets: every layer names its failure."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ctrlops.remote.ssh import fingerprint
from ctrlops.server.spec import parse_spec
from ctrlops.services import servers
from ctrlops.store.db import session
from ctrlops.store.models import Server
from tests.support.netfaults import closed_port, dropping_port, speaking_server
from tests.support.sshd import IS_ROOT, SSHBed, keygen


def add_and_check(name: str, timeout: float = 5, **fields: Any) -> dict[str, Any]:
    servers.add(parse_spec(name=name, **fields))
    return asyncio.run(_check(name, timeout))


async def _check(name: str, timeout: float) -> dict[str, Any]:
    try:
        return await servers.check(name, timeout)
    finally:
        await servers.close_all()


def ssh_fields(bed: SSHBed, **over: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "host": bed.host,
        "port": bed.port,
        "user": bed.user,
        "key": str(bed.key),
    }
    fields.update(over)
    return fields


def test_it_reaches_the_server_and_reports_its_facts(sshd: SSHBed) -> None:
    r = add_and_check("web1", **ssh_fields(sshd))
    assert r["ok"], r
    assert r["layer"] is None
    assert all(layer["ok"] for layer in r["layers"])
    assert r["facts"]["user"] == sshd.user
    assert r["facts"]["home"] == str(sshd.home)
    assert r["facts"]["arch"]
    assert r["facts"]["timezone"]
    assert r["facts"]["sudo"] in {"root", "passwordless", "password", "none"}
    assert abs(r["facts"]["clock_offset"]) <= 2


def test_it_pins_the_host_key_on_first_contact(sshd: SSHBed) -> None:
    add_and_check("web1", **ssh_fields(sshd))
    info = servers.get("web1")
    assert info.host_key is not None
    assert fingerprint(info.host_key) == fingerprint(sshd.host_pubkey)


def test_it_refuses_a_changed_host_key_and_accepts_it_only_by_fingerprint(
    sshd: SSHBed, tmp_path: Path
) -> None:
    add_and_check("web1", **ssh_fields(sshd))
    impostor = (keygen(tmp_path / "impostor").with_suffix(".pub")).read_text().strip()
    with session() as s:
        row = s.query(Server).filter_by(name="web1").one()
        row.host_key = impostor
    r = asyncio.run(_check("web1", 5))
    assert not r["ok"]
    assert r["layer"] == "host_key"
    assert r["category"] == "host_key_changed"
    real = fingerprint(sshd.host_pubkey)
    assert fingerprint(impostor) in r["cause"] and real in r["cause"]
    assert f"--fingerprint {real}" in r["fix"]

    with pytest.raises(Exception, match="nothing was changed"):
        asyncio.run(servers.trust("web1", fingerprint(impostor), 5))
    assert servers.get("web1").host_key == impostor

    asyncio.run(servers.trust("web1", real, 5))
    assert asyncio.run(_check("web1", 5))["ok"]


def test_it_names_a_refused_port(sshd: SSHBed) -> None:
    r = add_and_check("web1", **ssh_fields(sshd, port=closed_port()))
    assert (r["layer"], r["category"]) == ("tcp", "conn_refused")
    assert "nothing listens" in r["cause"]
    assert [layer["ok"] for layer in r["layers"][:3]] == [True, False, None]


def test_it_names_dropped_packets_as_a_firewall_with_cloud_hints(sshd: SSHBed) -> None:
    with dropping_port() as port:
        r = add_and_check("web1", timeout=1.5, **ssh_fields(sshd, port=port))
    assert (r["layer"], r["category"]) == ("tcp", "timeout")
    assert "security group" in r["fix"] and "firewall" in r["fix"]


def test_it_gives_the_hint_of_the_cloud_the_server_is_known_to_be_in(sshd: SSHBed) -> None:
    servers.add(parse_spec(name="web1", **ssh_fields(sshd)))
    with session() as s:
        s.query(Server).filter_by(name="web1").one().facts = {"cloud": "gcp"}
    with dropping_port() as port:
        with session() as s:
            s.query(Server).filter_by(name="web1").one().port = port
        r = asyncio.run(_check("web1", 1.5))
    assert r["layer"] == "tcp"
    assert "VPC firewall rule" in r["fix"]


def test_it_names_a_port_that_is_not_ssh(sshd: SSHBed) -> None:
    with speaking_server(b"HTTP/1.1 400 Bad Request\r\n\r\n") as port:
        r = add_and_check("web1", **ssh_fields(sshd, port=port))
    assert (r["layer"], r["category"]) == ("banner", "not_ssh")
    assert "HTTP/1.1 400" in r["cause"]


def test_it_names_a_port_that_accepts_but_never_speaks(sshd: SSHBed) -> None:
    with speaking_server(b"") as port:
        r = add_and_check("web1", timeout=1.5, **ssh_fields(sshd, port=port))
    assert (r["layer"], r["category"]) == ("banner", "not_ssh")
    assert "no SSH greeting" in r["cause"]


def test_it_names_a_key_the_server_does_not_accept(sshd: SSHBed) -> None:
    r = add_and_check("web1", **ssh_fields(sshd, key=str(sshd.other_key)))
    assert (r["layer"], r["category"]) == ("auth", "auth_refused")
    assert "authorized_keys" in r["fix"]


def test_it_names_a_wrong_user(sshd: SSHBed) -> None:
    r = add_and_check("web1", **ssh_fields(sshd, user="nosuchuser"))
    assert (r["layer"], r["category"]) == ("auth", "auth_refused")
    assert "'nosuchuser'" in r["cause"]


def test_it_names_a_key_file_that_disappeared(sshd: SSHBed, tmp_path: Path) -> None:
    key = tmp_path / "gone"
    shutil.copy(sshd.key, key)
    servers.add(parse_spec(name="web1", **ssh_fields(sshd, key=str(key))))
    key.unlink()
    r = asyncio.run(_check("web1", 5))
    assert (r["layer"], r["category"]) == ("auth", "key_missing")


def test_it_refuses_a_key_that_others_can_read(sshd: SSHBed, tmp_path: Path) -> None:
    key = tmp_path / "open"
    shutil.copy(sshd.key, key)
    key.chmod(0o644)
    r = add_and_check("web1", **ssh_fields(sshd, key=str(key)))
    assert (r["layer"], r["category"]) == ("auth", "key_permissions")
    assert "chmod 600" in r["fix"]


def test_it_asks_for_the_passphrase_of_an_encrypted_key(
    sshd: SSHBed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "enc"
    shutil.copy(sshd.key, key)
    subprocess.run(["ssh-keygen", "-q", "-p", "-N", "s3cret pass", "-f", str(key)], check=True)
    r = add_and_check("web1", **ssh_fields(sshd, key=str(key)))
    assert (r["layer"], r["category"]) == ("auth", "passphrase_needed")
    assert "ssh-agent" in r["fix"]
    monkeypatch.setenv("CTRLOPS_SSH_PASSPHRASE", "s3cret pass")
    r = asyncio.run(_check("web1", 5))
    assert r["ok"], r


def test_it_uses_the_ssh_agent_when_no_key_is_given(
    sshd: SSHBed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if sock.exists():
                break
            asyncio.run(asyncio.sleep(0.05))
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        subprocess.run(["ssh-add", "-q", str(sshd.key)], env=env, check=True)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh keys to fall back on
        r = add_and_check("web1", host=sshd.host, port=sshd.port, user=sshd.user)
        assert r["ok"], r
    finally:
        agent.terminate()


def test_it_follows_a_host_alias_from_ssh_config(
    sshd: SSHBed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text(
        f"Host backup-box\n  HostName {sshd.host}\n  Port {sshd.port}\n  User {sshd.user}\n"
        f"  IdentityFile {sshd.key}\n"
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    r = add_and_check("web1", host="backup-box")
    assert r["ok"], r
    assert r["facts"]["user"] == sshd.user


def test_it_goes_through_a_jump_host(sshd: SSHBed) -> None:
    # The jump host is the same sshd: it forwards to itself on loopback.
    jump = f"{sshd.user}@{sshd.host}:{sshd.port}"
    r = add_and_check("web1", **ssh_fields(sshd, jump=jump))
    assert r["ok"], r


@pytest.mark.root
@pytest.mark.skipif(not IS_ROOT, reason="needs root to create a network namespace")
def test_it_names_a_host_name_that_does_not_exist(sshd: SSHBed, ctrlops_home: Path) -> None:
    # A private network namespace whose only resolver answers NXDOMAIN: the lookup is
    # real (glibc, resolv.conf) and no packet can leave loopback.
    ns = f"ctrlops-dns-{os.getpid()}"
    etc = Path("/etc/netns") / ns
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
        import sys

        dns = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "tests.support.netfaults"],
            cwd=Path(__file__).parents[2],
        )
        try:
            servers.add(parse_spec(name="web1", host="no-such-host.example.com", port=22))
            from tests.support.cli import CTRLOPS

            out = subprocess.run(
                [
                    "ip",
                    "netns",
                    "exec",
                    ns,
                    CTRLOPS,
                    "server",
                    "check",
                    "web1",
                    "--json",
                    "--timeout",
                    "3",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, "CTRLOPS_HOME": str(ctrlops_home)},
            )
        finally:
            dns.terminate()
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
        shutil.rmtree(etc, ignore_errors=True)
    import json

    r = json.loads(out.stdout)
    assert out.returncode == 1
    assert (r["layer"], r["category"]) == ("dns", "dns"), r
    assert "does not exist" in r["cause"]


def test_it_checks_this_machine_without_ssh() -> None:
    r = add_and_check("here", local=True)
    assert r["ok"], r
    assert [layer["layer"] for layer in r["layers"]] == ["shell", "facts"]
    assert r["facts"]["user"]


def test_it_checks_a_fleet_concurrently_and_keeps_one_result_per_server(sshd: SSHBed) -> None:
    servers.add(parse_spec(name="good", **ssh_fields(sshd)))
    servers.add(parse_spec(name="refused", **ssh_fields(sshd, port=closed_port())))
    servers.add(parse_spec(name="here", local=True))

    async def all_() -> list[dict[str, Any]]:
        try:
            return await servers.check_all(5)
        finally:
            await servers.close_all()

    results = {r["server"]: r for r in asyncio.run(all_())}
    assert results["good"]["ok"] and results["here"]["ok"]
    assert results["refused"]["layer"] == "tcp"
