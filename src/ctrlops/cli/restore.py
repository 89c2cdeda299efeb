"""``ctrlops restore JOB [--list]`` and ``ctrlops job verify NAME``: parse, call, render."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from ctrlops.cli.output import JsonOpt, console, handle_errors, print_json, run
from ctrlops.errors import InputError
from ctrlops.services import browse, verification
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
        None, "--path", help="Only this path under a source (repeatable); with --list a folder."
    ),
    to: str | None = typer.Option(
        None, "--to", help="Directory to restore into (<to>/<source path>)."
    ),
    server: str | None = typer.Option(None, "--server", help="Restore onto this server instead."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace files that exist."),
    list_only: bool = typer.Option(
        False, "--list", help="List one folder of the backup instead of restoring."
    ),
    search: str | None = typer.Option(
        None, "--search", help="With --list: names containing this text, in all subfolders."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Restore a job's files from its destination onto a server (or --list them)."""
    if list_only:
        _list(name, path or [], search=search, run_id=run_id, at=at, as_json=as_json,
              restore_flags={"--to": to is not None, "--server": server is not None,
                             "--overwrite": overwrite})  # fmt: skip
        return
    if search is not None:
        raise InputError("--search", "only with --list", "add --list to search the backup")
    if to is None:
        raise InputError(
            "--to", "missing: the directory to restore into", "e.g. --to /srv/restored"
        )
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


def _list(
    name: str,
    paths: list[str],
    *,
    search: str | None,
    run_id: str | None,
    at: str | None,
    as_json: bool,
    restore_flags: dict[str, bool],
) -> None:
    for flag, given in restore_flags.items():
        if given:
            raise InputError(flag, "not used with --list", f"leave out {flag} or --list")
    if len(paths) > 1:
        raise InputError("--path", "--list shows one folder at a time", "give one --path")
    try:
        result = run(
            browse.listing(name, paths[0] if paths else "", search=search, run=run_id, at=at)
        )
    except InputError as e:
        if e.field in ("path", "search"):  # the service's names for these flags
            raise InputError(f"--{e.field}", e.reason, e.fix) from None
        raise
    if as_json:
        print_json(result)
        return
    point = result["point"]
    when = "" if point["kind"] == "current" else f" at {point['at']}"
    what = f"names containing {result['search']!r} under" if result["search"] else "folder"
    table = Table(
        "",
        "name",
        "size",
        "modified",
        "path",
        title=escape(f"{name}: {what} {result['path']}{when}"),
    )
    for item in result["entries"]:
        table.add_row(
            "dir" if item["is_dir"] else "",
            escape(item["name"]) + ("/" if item["is_dir"] else ""),
            "" if item["size"] is None else human_size(item["size"]),
            item["modified"] or "",
            escape(item["path"])
            if item["restorable"]
            else f"[dim]{escape(item['path'])} (not restorable)[/]",
        )
    console.print(table)
    if not result["entries"]:
        console.print(
            "nothing found" if result["search"] else "this folder is empty", highlight=False
        )
    if result["truncated"]:
        console.print(
            f"[yellow]showing {len(result['entries'])} of {result['total']} matches: "
            "search for a longer name or in a deeper --path[/]",
            highlight=False,
        )
    for note in result["notes"]:
        console.print(f"[dim]note: {note}[/]", highlight=False, soft_wrap=True)


@handle_errors
def verify(
    name: str = typer.Argument(..., help="The job to verify."),
    download: bool = typer.Option(
        False, "--download", help="Compare contents (for providers without hashes)."
    ),
    last: bool = typer.Option(
        False, "--last", help="Show the latest scheduled verification (cron on the server)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Compare the job's sources with the destination; exit 1 when they differ."""
    if last:
        if download:
            raise InputError("--download", "not with --last", "leave out --download or --last")
        _last(name, as_json=as_json)
        return
    result = run(verification.verify(name, download=download))
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


_SIGNAL = {"green": "green", "amber": "yellow", "red": "red"}


def _last(name: str, *, as_json: bool) -> None:
    """Print the latest scheduled verification; exit 1 unless its signal is green."""
    result = run(verification.last_verification(name))
    if as_json:
        print_json(result)
    else:
        colour = _SIGNAL.get(result["signal"], "white")
        head = (
            f"{name} on {result['server']}: scheduled verification [{colour}]{result['state']}[/]"
        )
        if result.get("id"):
            head += (
                f" ({result['id']}, {result['trigger']}, started {result['started']}, "
                f"finished {result['finished'] or '-'})"
            )
        console.print(head, highlight=False, soft_wrap=True)
        console.print(escape(result["cause"]), highlight=False, soft_wrap=True)
        if "missing" in result:
            _paths("missing at the destination", result["missing"], "red")
            _paths("different at the destination", result["differ"], "red")
            _paths("only at the destination", result["extra"], "red")
            _paths("could not be compared", result["errors"], "red")
            test = result["restore_test"]
            if test["state"] != "off":
                part = {"count": test["failed"], "paths": test["paths"]}
                console.print(
                    f"restore test: {test['state']} ({test['files']} files read back)",
                    highlight=False,
                )
                _paths("restored but different from the server's copy", part, "red")
        if result["fix"]:
            console.print(f"[bold]fix:[/] {escape(result['fix'])}", highlight=False, soft_wrap=True)
        if result.get("next"):
            console.print(f"next scheduled verification: {result['next']}", highlight=False)
    if result["signal"] != "green":
        raise typer.Exit(1)
