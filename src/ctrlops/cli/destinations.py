"""``ctrlops dest ...``: add, list, show, edit, remove, test."""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from rich.table import Table

from ctrlops.cli.output import JsonOpt, console, handle_errors, print_json, run
from ctrlops.errors import InputError
from ctrlops.rclone.providers import PROVIDERS, DestinationSpec
from ctrlops.services import destinations

app = typer.Typer(help="Destinations: S3-compatible buckets backups go to.", no_args_is_help=True)

SECRET_ENV = "CTRLOPS_SECRET_ACCESS_KEY"  # noqa: S105 (the variable name, not a secret)
_MARK = {True: "[green]ok[/]", False: "[red]FAILED[/]"}


def _read_secret(from_stdin: bool) -> str:
    """Return the secret from stdin, the environment or a hidden prompt (never argv).

    Raises :class:`InputError` when there is none and no terminal to ask on.
    """
    if from_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    elif os.environ.get(SECRET_ENV):
        secret = os.environ[SECRET_ENV]
    elif sys.stdin.isatty():
        secret = typer.prompt("Secret access key", hide_input=True)
    else:
        raise InputError(
            "secret_access_key",
            f"not given: set {SECRET_ENV}, pipe it with --secret-stdin, or run in a terminal",
        )
    if not secret:
        raise InputError("secret_access_key", "must not be empty")
    return secret


def _render(d: dict[str, Any]) -> None:
    table = Table(title=d["name"], title_justify="left", show_header=False, box=None)
    for key in ("provider", "bucket", "prefix", "region", "endpoint", "account_id"):
        if d.get(key):
            table.add_row(f"  {key}", str(d[key]))
    table.add_row("  access_key_id", d["access_key_id"])
    table.add_row("  secret_access_key", d["secret_access_key"])
    last = d.get("last_test") or {}
    if last:
        state = "ok" if last.get("ok") else f"FAILED at {last.get('step')}: {last.get('cause')}"
        table.add_row("  last test", f"{state} (from {last.get('server')}, {last.get('at')})")
    console.print(table, highlight=False)


@app.command("add")
@handle_errors
def add(
    name: str = typer.Argument(..., help="A short name for this destination."),
    provider: str = typer.Option(..., "--provider", help=" | ".join(PROVIDERS)),
    bucket: str = typer.Option(..., "--bucket", help="Bucket name."),
    region: str | None = typer.Option(None, "--region", help="Region (aws, b2, wasabi...)."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="URL (minio, s3)."),
    account_id: str | None = typer.Option(None, "--account-id", help="R2 account id."),
    access_key_id: str = typer.Option(..., "--access-key-id", help="Access key id."),
    prefix: str = typer.Option("", "--prefix", help="Folder inside the bucket."),
    secret_stdin: bool = typer.Option(
        False, "--secret-stdin", help=f"Read the secret from stdin (else ${SECRET_ENV})."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Add a destination; the secret key comes from stdin, the environment or a prompt."""
    # Validate everything typed before asking for the secret.
    spec = DestinationSpec(
        name=name,
        provider=provider,  # refused by the model when unknown
        bucket=bucket,
        region=region,
        endpoint=endpoint,
        account_id=account_id,
        access_key_id=access_key_id,
        prefix=prefix,
    )
    info = destinations.add(spec, _read_secret(secret_stdin))
    if as_json:
        print_json(info)
        return
    console.print(f"added destination [bold]{name}[/]", highlight=False)
    console.print(f"next: `ctrlops dest test {name} --server SERVER`", highlight=False)


@app.command("list")
@handle_errors
def list_(as_json: bool = JsonOpt) -> None:
    """List destinations."""
    rows = destinations.list_all()
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no destinations; add one with `ctrlops dest add`")
        return
    table = Table("name", "provider", "bucket/prefix", "endpoint", "last test")
    for d in rows:
        last = d["last_test"]
        state = "-" if not last else ("ok" if last.get("ok") else str(last.get("category")))
        where = f"{d['bucket']}/{d['prefix']}" if d["prefix"] else d["bucket"]
        table.add_row(d["name"], d["provider"], where, d["endpoint"] or "(AWS)", state)
    console.print(table, highlight=False)


@app.command("show")
@handle_errors
def show(name: str = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """Show one destination (the secret is masked)."""
    info = destinations.show(name)
    if as_json:
        print_json(info)
    else:
        _render(info)


@app.command("edit")
@handle_errors
def edit(
    name: str = typer.Argument(...),
    access_key_id: str | None = typer.Option(None, "--access-key-id", help="New access key id."),
    secret_stdin: bool = typer.Option(
        False, "--secret-stdin", help=f"Read the new secret from stdin (else ${SECRET_ENV})."
    ),
    keep_secret: bool = typer.Option(
        False, "--keep-secret", help="Change only --access-key-id; keep the stored secret."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Replace a destination's key, then redeploy the jobs using it (exit 1 if one fails)."""
    if keep_secret and secret_stdin:
        raise InputError("--keep-secret", "cannot be combined with --secret-stdin")
    if keep_secret and access_key_id is None:
        raise InputError("--keep-secret", "nothing to change without --access-key-id")
    destinations.show(name)  # an unknown name fails before asking for a secret
    secret = None if keep_secret else _read_secret(secret_stdin)
    info = run(destinations.set_credentials(name, secret, access_key_id=access_key_id))
    if as_json:
        print_json(info)
    else:
        console.print(f"updated the key of destination [bold]{name}[/]", highlight=False)
        for job in info["redeployed"]:
            console.print(f"  redeployed job {job}", highlight=False)
        for f in info["failed"]:
            console.print(
                f"  [bold red]job {f['job']} still has the old key:[/] {f['cause']}"
                + (f" ({f['fix']})" if f["fix"] else ""),
                highlight=False,
            )
        console.print(f"next: `ctrlops dest test {name} --server SERVER`", highlight=False)
    if info["failed"]:
        raise typer.Exit(1)


@app.command("remove")
@handle_errors
def remove(name: str = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """Remove a destination no job uses."""
    destinations.remove(name)
    if as_json:
        print_json({"ok": True, "removed": name})
    else:
        console.print(f"removed destination [bold]{name}[/]", highlight=False)


@app.command("test")
@handle_errors
def test(
    name: str = typer.Argument(...),
    server: str = typer.Option(..., "--server", help="Test from this server."),
    timeout: float = typer.Option(20, "--timeout", min=2, max=300, help="Seconds per step."),
    as_json: bool = JsonOpt,
) -> None:
    """Test Connection: list, write, read and delete a probe, from the server (exit 1 if not)."""
    result = run(destinations.test(name, server, timeout=timeout))
    if as_json:
        print_json(result.as_dict())
    else:
        for step in result.steps:
            console.print(f"  {step['step']:<12} {_MARK[step['ok']]}  {step['seconds']:.2f} s")
        if result.ok:
            console.print(f"[green]ok:[/] {result.cause}", highlight=False)
        else:
            console.print(
                f"[bold red]{result.category}[/] at {result.step}: {result.cause}", highlight=False
            )
            console.print(f"[bold]fix:[/] {result.fix}", highlight=False)
            if result.raw:
                console.print(f"[dim]rclone: {result.raw}[/]", highlight=False, soft_wrap=True)
    raise typer.Exit(0 if result.ok else 1)
