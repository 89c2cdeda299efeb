"""``ctrlops server ...``: add, list, remove, check, trust, fix."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import Any

import typer
from rich.table import Table

from ctrlops.cli.output import JsonOpt, console, handle_errors, print_json, run
from ctrlops.errors import InputError
from ctrlops.server.spec import parse_spec
from ctrlops.services import health, servers

app = typer.Typer(help="Servers reached over SSH (or this machine).", no_args_is_help=True)

TimeoutOpt = typer.Option(
    None, "--timeout", min=1, max=300, help="Seconds per connection step (default 10)."
)

_MARK = {True: "[green]ok[/]", False: "[red]FAILED[/]", None: "[dim]-[/]"}


def _render_check(r: dict[str, Any]) -> None:
    title = f"{r['server']}: " + ("[green]reachable[/]" if r["ok"] else "[red]not reachable[/]")
    table = Table(title=title, title_justify="left", show_header=False, box=None)
    for layer in r["layers"]:
        table.add_row(f"  {layer['layer']}", _MARK[layer["ok"]], layer["detail"])
    console.print(table)
    if not r["ok"]:
        console.print(f"[bold red]cause:[/] {r['cause']}", highlight=False)
        console.print(f"[bold]fix:[/] {r['fix']}", highlight=False)
        return
    f = r["facts"]
    console.print(
        f"  {f.get('os')} {f.get('arch')} | user {f.get('user')} (home {f.get('home')}) | "
        f"sudo: {f.get('sudo')} | timezone {f.get('timezone')} | clock offset "
        f"{f.get('clock_offset')} s",
        highlight=False,
    )
    for b in r["banners"]:
        colour = "yellow" if b["severity"] == "warning" else "red"
        fix = f" -> `ctrlops server fix {r['server']} {b['fix']}`" if b["fix"] else ""
        console.print(f"  [{colour}]! {b['text']}[/] ({b['evidence']}){fix}", highlight=False)


def _check_with_prompt(name: str, timeout: float | None) -> dict[str, Any]:
    result = run(servers.check(name, timeout))
    if result.get("category") == "passphrase_needed" and sys.stdin.isatty():
        # Kept in this process's environment only: never an argument, never stored.
        os.environ["CTRLOPS_SSH_PASSPHRASE"] = typer.prompt("Key passphrase", hide_input=True)
        result = run(servers.check(name, timeout))
    return result


@app.command("add")
@handle_errors
def add(
    name: str = typer.Argument(..., help="A short name for the server."),
    host: str | None = typer.Option(None, "--host", help="Host name, IP or ~/.ssh/config alias."),
    port: int | None = typer.Option(None, "--port", help="SSH port (default 22 or ssh config)."),
    user: str | None = typer.Option(None, "--user", help="Login user (default: ssh config)."),
    key: str | None = typer.Option(None, "--key", help="Private key file (default: agent)."),
    jump: str | None = typer.Option(None, "--jump", help="Jump host: [user@]host[:port]."),
    local: bool = typer.Option(False, "--local", help="This machine, without SSH."),
    no_check: bool = typer.Option(False, "--no-check", help="Do not connect now."),
    timeout: float | None = TimeoutOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Register a server, then check it (pins its host key on first contact)."""
    spec = parse_spec(name=name, host=host, port=port, user=user, key=key, jump=jump, local=local)
    info = servers.add(spec)
    result = None if no_check else _check_with_prompt(info.name, timeout)
    if as_json:
        print_json({"server": servers.get(info.name).as_dict(), "check": result})
    else:
        console.print(f"added server [bold]{info.name}[/] ({info.address})", highlight=False)
        if result is not None:
            _render_check(result)
    if result is not None and not result["ok"]:
        raise typer.Exit(1)


@app.command("list")
@handle_errors
def list_(as_json: bool = JsonOpt) -> None:
    """List servers."""
    infos = servers.list_all()
    if as_json:
        print_json([i.as_dict() for i in infos])
        return
    table = Table("name", "address", "os", "timezone", "host key")
    for i in infos:
        d = i.as_dict()
        table.add_row(
            i.name, i.address, d["os"] or "", d["timezone"] or "", d["host_key_fingerprint"] or ""
        )
    console.print(table)


@app.command("remove")
@handle_errors
def remove(name: str, as_json: bool = JsonOpt) -> None:
    """Forget a server (refused while jobs use it)."""
    servers.remove(name)
    if as_json:
        print_json({"removed": name})
    else:
        console.print(f"removed server {name}", highlight=False)


@app.command("check")
@handle_errors
def check(
    name: str | None = typer.Argument(None, help="Server to check."),
    all_: bool = typer.Option(False, "--all", help="Check every server concurrently."),
    timeout: float | None = TimeoutOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Walk DNS -> TCP -> SSH -> auth -> shell -> facts and show banners."""
    if all_ == (name is not None):
        raise InputError("name", "give a server name or --all (not both)")
    if all_:
        results = run(servers.check_all(timeout))
        if as_json:
            print_json(results)
        else:
            table = Table("server", "status", "layer", "banners / cause")
            for r in results:
                status = "[green]ok[/]" if r["ok"] else "[red]FAILED[/]"
                what = ", ".join(b["text"] for b in r["banners"]) if r["ok"] else r["cause"]
                table.add_row(r["server"], status, r["layer"] or "", what)
            console.print(table)
        if not all(r["ok"] and not r["banners"] for r in results):
            raise typer.Exit(1)
        return
    assert name is not None
    result = _check_with_prompt(name, timeout)
    if as_json:
        print_json(result)
    else:
        _render_check(result)
    if not result["ok"]:
        raise typer.Exit(1)


@app.command("trust")
@handle_errors
def trust(
    name: str,
    fingerprint: str = typer.Option(..., "--fingerprint", help="SHA256:... of the new key."),
    timeout: float | None = TimeoutOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Accept a server's changed host key, deliberately, by its fingerprint."""
    if not fingerprint.startswith("SHA256:"):
        raise InputError("--fingerprint", "expected SHA256:... as ssh-keygen -l prints it")
    info = run(servers.trust(name, fingerprint, timeout))
    if as_json:
        print_json(info.as_dict())
    else:
        console.print(f"{name}: now trusting host key {fingerprint}", highlight=False)


class FixAction(StrEnum):
    install_rclone = "install-rclone"
    install_cron = "install-cron"
    start_cron = "start-cron"
    reconnect = "reconnect"
    redeploy = "redeploy"


@app.command("fix")
@handle_errors
def fix(
    name: str,
    action: FixAction = typer.Argument(..., help="The banner's one-click fix."),
    timeout: float | None = TimeoutOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Apply a banner's fix, then re-check (exit 1 while its banner stays)."""
    result = run(health.apply_fix(name, action.value, timeout))
    if as_json:
        print_json(result)
    else:
        for command in result["ran"]:
            console.print(f"  ran: {command}", highlight=False, soft_wrap=True)
        if not result["changed"] and not result["error"] and result["manual"] is None:
            console.print(f"  nothing to change: {result.get('reason') or 'already fixed'}")
        if result["error"]:
            console.print(f"[bold red]failed:[/] {result['error']['cause']}", highlight=False)
        if result["manual"]:
            console.print(
                f"[bold]run this on the server yourself:[/] {result['manual']}",
                highlight=False,
                soft_wrap=True,
            )
        _render_check(result["check"])
    if not result["fixed"]:
        raise typer.Exit(1)
