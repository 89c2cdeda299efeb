"""The persistent backup shell: dropped from the server side, noticed, and restored."""

from __future__ import annotations

import asyncio
import subprocess

from ctrlops.health.probes import banners
from ctrlops.remote.exec import execute
from ctrlops.server.spec import parse_spec
from ctrlops.services import servers
from tests.support.sshd import SSHBed


def _add(sshd: SSHBed) -> None:
    servers.add(
        parse_spec(name="web1", host=sshd.host, port=sshd.port, user=sshd.user, key=str(sshd.key))
    )


async def _wait_for(state: str, name: str = "web1") -> None:
    for _ in range(100):
        if servers.shell_state(name)["state"] == state:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"shell never became {state}: {servers.shell_state(name)}")


def test_it_shares_one_connection_between_operations(sshd: SSHBed) -> None:
    _add(sshd)

    async def scenario() -> None:
        try:
            async with servers.open_remote("web1") as a, servers.open_remote("web1") as b:
                assert a is b
                results = await asyncio.gather(*(execute(a, ["echo", str(i)]) for i in range(8)))
                assert [r.stdout.strip() for r in results] == [str(i) for i in range(8)]
        finally:
            await servers.close_all()

    asyncio.run(scenario())


def test_it_shows_the_disconnected_banner_and_reconnects(sshd: SSHBed) -> None:
    _add(sshd)
    info = servers.get("web1")

    async def scenario() -> None:
        try:
            async with servers.open_remote("web1") as remote:
                await execute(remote, ["true"])
            assert servers.shell_state("web1")["state"] == "connected"
            # Kill the server-side sshd processes of this connection, as a reboot, an
            # idle-timeout or an OOM kill would.
            subprocess.run(["pkill", "-TERM", "-P", str(sshd.proc.pid)], check=True)
            await _wait_for("disconnected")
            shown = banners({"shell": servers.shell_state("web1"), "facts": {}}, info)
            assert "shell_disconnected" in [b["id"] for b in shown]
            assert next(b for b in shown if b["id"] == "shell_disconnected")["text"] == (
                "Backup Shell Disconnected"
            )

            await servers.reconnect("web1")
            assert servers.shell_state("web1")["state"] == "connected"
            async with servers.open_remote("web1") as remote:
                assert (await execute(remote, ["echo", "back"])).stdout == "back\n"
        finally:
            await servers.close_all()

    asyncio.run(scenario())


def test_the_next_operation_restores_a_dropped_shell(sshd: SSHBed) -> None:
    _add(sshd)

    async def scenario() -> None:
        try:
            async with servers.open_remote("web1") as remote:
                await execute(remote, ["true"])
            subprocess.run(["pkill", "-TERM", "-P", str(sshd.proc.pid)], check=True)
            await _wait_for("disconnected")
            async with servers.open_remote("web1") as remote:
                assert (await execute(remote, ["echo", "ok"])).stdout == "ok\n"
            assert servers.shell_state("web1")["state"] == "connected"
        finally:
            await servers.close_all()

    asyncio.run(scenario())
