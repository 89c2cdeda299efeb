"""``ctrlops alert ...``: where alerts go, a test message, and one sweep over all jobs."""

from __future__ import annotations

import os
import sys

import typer
from rich.table import Table

from ctrlops.cli.output import JsonOpt, console, handle_errors, print_json, run
from ctrlops.errors import InputError
from ctrlops.services import alerts

app = typer.Typer(help="Alerts on failed, missed, stalled and empty backups.", no_args_is_help=True)


@app.command("add")
@handle_errors
def add(
    job: str | None = typer.Option(None, "--job", help="Only this job (default: every job)."),
    url_stdin: bool = typer.Option(False, "--url-stdin", help="Read the URL from stdin."),
    as_json: bool = JsonOpt,
) -> None:
    """Add an Apprise URL (from CTRLOPS_ALERT_URL, stdin or a prompt: it may hold tokens)."""
    if url_stdin:
        url = sys.stdin.readline().strip()
    elif os.environ.get("CTRLOPS_ALERT_URL"):
        url = os.environ["CTRLOPS_ALERT_URL"]
    elif sys.stdin.isatty():
        url = typer.prompt("Apprise URL", hide_input=True)
    else:
        raise InputError("url", "set CTRLOPS_ALERT_URL or use --url-stdin")
    result = alerts.add(url, job)
    print_json(result) if as_json else console.print(
        f"alerts for {job or 'every job'} go to {result['to']}", highlight=False
    )


@app.command("list")
@handle_errors
def list_(as_json: bool = JsonOpt) -> None:
    """List alert channels (tokens hidden)."""
    rows = alerts.list_all()
    if as_json:
        print_json(rows)
        return
    table = Table("id", "to", "job")
    for r in rows:
        table.add_row(str(r["id"]), r["to"], r["job"] or "every job")
    console.print(table)


@app.command("remove")
@handle_errors
def remove(channel_id: int = typer.Argument(..., metavar="ID"), as_json: bool = JsonOpt) -> None:
    """Remove an alert channel."""
    alerts.remove(channel_id)
    print_json({"removed": channel_id}) if as_json else console.print("removed")


@app.command("test")
@handle_errors
def test(as_json: bool = JsonOpt) -> None:
    """Send a test message to every channel."""
    result = run(alerts.test())
    print_json(result) if as_json else console.print(f"sent to {result['sent']} channel(s)")


@app.command("sweep")
@handle_errors
def sweep(as_json: bool = JsonOpt) -> None:
    """Check every job once and send the alerts that are due (e.g. from cron or a timer)."""
    sent = run(alerts.sweep())
    if as_json:
        print_json(sent)
        return
    for s in sent:
        mark = "sent" if s["delivered"] else "[red]NOT delivered[/]"
        console.print(f"{s['job']}: {s['event']} ({s['state']}) {mark}", highlight=False)
    if not sent:
        console.print("nothing to report")
    if any(not s["delivered"] for s in sent):
        raise typer.Exit(1)
