"""``ctrlops restore JOB`` and ``ctrlops job verify NAME``: parse, call the service, render."""

from __future__ import annotations

from typing import Any

import typer

from ctrlops.cli.output import JsonOpt, console, handle_errors, print_json, run
from ctrlops.services import restore as service
from ctrlops.units import human_size


def _paths(title: str, part: dict[str, Any], colour: str) -> None:
    if not part["count"]:
        return
    console.print(f"[{colour}]{title}: {part['count']}[/]", highlight=False)
    for p in part["paths"]:
        console.print(f"  {p}", highlight=False, soft_wrap=True)
    if part["count"] > len(part["paths"]):
        console.print(f"  ... and {part['count'] - len(part['paths'])} more", highlight=False)


@handle_errors
def restore(
    name: str = typer.Argument(..., help="The job whose backup to restore."),
    run_id: str | None = typer.Option(None, "--run", help="The tree as this run left it."),
    at: str | None = typer.Option(
        None, "--at", help="The tree as it stood then (ISO time with Z or offset; mirror mode)."
    ),
    path: list[str] | None = typer.Option(
        None, "--path", help="Only this path under a source (repeatable)."
    ),
    to: str = typer.Option(..., "--to", help="Directory to restore into (<to>/<source path>)."),
    server: str | None = typer.Option(None, "--server", help="Restore onto this server instead."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace files that exist."),
    as_json: bool = JsonOpt,
) -> None:
    """Restore a job's files from its destination onto a server."""
    result = run(
        service.restore(
            name,
            to=to,
            run_id=run_id,
            at=at,
            paths=path or (),
            server=server,
            overwrite=overwrite,
        )
    )
    if as_json:
        print_json(result)
        return
    point = result["point"]
    when = {"current": "current state", "at": f"state at {point['at']}"}.get(
        point["kind"], f"state after run {point['run']}"
    )
    restored = result["restored"]
    console.print(
        f"restored {restored['files']} files ({human_size(restored['bytes'])}) of {name} "
        f"({when}) on {result['server']} into {', '.join(result['where'])}",
        highlight=False,
        soft_wrap=True,
    )
    _paths("kept existing files (use --overwrite to replace)", result["skipped"], "yellow")
    _paths("left out: created after that time", result["excluded"], "yellow")
    _paths("not restorable (line break in the name)", result["unlistable"], "red")
    for note in result["notes"]:
        console.print(f"[dim]note: {note}[/]", highlight=False, soft_wrap=True)


@handle_errors
def verify(
    name: str = typer.Argument(..., help="The job to verify."),
    download: bool = typer.Option(
        False, "--download", help="Compare contents (for providers without hashes)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Compare the job's sources with the destination; exit 1 when they differ."""
    result = run(service.verify(name, download=download))
    if as_json:
        print_json(result)
    else:
        how = "contents" if result["download"] else "size and hash" if result["hash"] else "size"
        state = "[green]matches[/]" if result["ok"] else "[red]differs[/]"
        console.print(
            f"{name} on {result['server']}: destination {state} ({how}; "
            f"{result['matched']} files identical)",
            highlight=False,
        )
        for source in result["sources_missing"]:
            console.print(f"[red]source missing on the server: {source}[/]", highlight=False)
        _paths("missing at the destination", result["missing"], "red")
        _paths("different at the destination", result["differ"], "red")
        extra_colour = "red" if result["extra_is_difference"] else "dim"
        _paths("only at the destination", result["extra"], extra_colour)
        _paths("could not be compared", result["errors"], "red")
        if not result["hash"]:
            console.print("note: no common hash; sizes only (try --download)", highlight=False)
    if not result["ok"]:
        raise typer.Exit(1)
