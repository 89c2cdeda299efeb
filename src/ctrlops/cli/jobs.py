"""``ctrlops job ...``: add, edit, deploy, remove, list, status, run, log, kill, explain."""

from __future__ import annotations

import time
from typing import Any

import typer
from rich.table import Table

from ctrlops.cli.explain import render_ai, render_diagnosis
from ctrlops.cli.output import JsonOpt, console, handle_errors, print_json, run
from ctrlops.rclone.output import parse_log
from ctrlops.services import jobs
from ctrlops.units import human_size

app = typer.Typer(help="Backup jobs: what to back up, where, and when.", no_args_is_help=True)

_COLOUR = {
    "success": "green",
    "running": "cyan",
    "skipped": "yellow",
    "warning": "yellow",
    "success, nothing copied": "red",
    "failed": "red",
    "interrupted": "red",
    "stalled": "red",
    "killed": "red",
    "missed": "red",
}


def _render_run(r: dict[str, Any]) -> None:
    colour = _COLOUR.get(r["state"], "white")
    console.print(
        f"run {r['id']} ({r['trigger']}): [bold {colour}]{r['state']}[/] | "
        f"{r['files_transferred']} files, {human_size(r['bytes_transferred'])} copied, "
        f"{r['checks']} checked, {r['errors']} errors | exit {r['exit_code']} | "
        f"started {r['started']} finished {r['finished'] or '-'}",
        highlight=False,
    )
    if r.get("diagnosis"):
        render_diagnosis({**r["diagnosis"], "evidence": []})


def _warn(result: dict[str, Any]) -> None:
    for w in result.get("warnings", []):
        console.print(f"[yellow]warning:[/] {w}", highlight=False)


Sources = typer.Option(..., "--source", help="Absolute path to back up (repeatable).")
Excludes = typer.Option(None, "--exclude", help="rclone glob to skip (repeatable).")
_VERIFY_HELP = "Cron expression: the server compares the sources with the backup then."
_DOWNLOAD_HELP = "Verify by comparing contents (for providers without usable hashes)."
_RESTORE_HELP = "Each scheduled verification also restores N random files and compares them."


def _verify_options(
    options: dict[str, Any],
    verify_schedule: str | None,
    verify_download: bool | None,
    restore_test_files: int | None,
) -> dict[str, Any]:
    """Return ``options`` with the verification flags given applied (None: unchanged).

    ``--verify-schedule ''`` stops scheduled verification, and with it the restore test
    unless ``--restore-test-files`` is given too; the service validates the result.
    """
    out = dict(options)
    if verify_schedule is not None:
        if verify_schedule.strip():
            out["verify_schedule"] = verify_schedule
        else:
            out.pop("verify_schedule", None)
            out.pop("restore_test_files", None)
    if verify_download is not None:
        out["verify_download"] = verify_download
    if restore_test_files is not None:
        out["restore_test_files"] = restore_test_files
    return out


@app.command("add")
@handle_errors
def add(
    name: str = typer.Argument(..., help="A short name for the job."),
    server: str = typer.Option(..., "--server", help="Server the files are on."),
    source: list[str] = Sources,
    dest: str = typer.Option(..., "--dest", help="Destination to back up to."),
    prefix: str = typer.Option("", "--prefix", help="Folder under the destination's prefix."),
    schedule: str | None = typer.Option(None, "--schedule", help="Cron expression."),
    timezone: str | None = typer.Option(None, "--timezone", help="Must be the server's."),
    exclude: list[str] | None = Excludes,
    mode: str = typer.Option("copy", "--mode", help="copy, or mirror (keeps old versions)."),
    bwlimit: str | None = typer.Option(None, "--bwlimit", help="e.g. 10M (bytes/s)."),
    stall_minutes: float = typer.Option(
        10, "--stall-minutes", min=0.05, help="No progress this long = stalled."
    ),
    stats_interval: str = typer.Option("10s", "--stats-interval", hidden=True),
    ping_url: str | None = typer.Option(
        None, "--ping-url", help="healthchecks.io-style URL the server pings itself."
    ),
    keep_days: int = typer.Option(
        0, "--keep-days", help="Mirror mode: delete versions older than this (0: keep all)."
    ),
    verify_schedule: str | None = typer.Option(None, "--verify-schedule", help=_VERIFY_HELP),
    verify_download: bool = typer.Option(False, "--verify-download", help=_DOWNLOAD_HELP),
    restore_test_files: int = typer.Option(0, "--restore-test-files", help=_RESTORE_HELP),
    as_json: bool = JsonOpt,
) -> None:
    """Create a job and deploy it (runner, files, crontab lines) to its server."""
    info = jobs.spec(
        name,
        server=server,
        sources=source,
        dest=dest,
        prefix=prefix,
        schedule_expr=schedule,
        timezone=timezone,
        excludes=exclude or [],
        mode=mode,
        bwlimit=bwlimit,
        options=_verify_options(
            {
                "stats_interval": stats_interval,
                "stall_seconds": stall_minutes * 60,
                "ping_url": ping_url,
                **({"keep_days": keep_days} if keep_days else {}),
            },
            verify_schedule,
            verify_download or None,
            restore_test_files or None,
        ),
    )
    result = run(jobs.add(info))
    if as_json:
        print_json(result)
        return
    console.print(
        f"added job [bold]{name}[/] on {server}: {result['schedule_text']} ({result['timezone']})",
        highlight=False,
    )
    if info.options.get("verify_schedule"):
        console.print(f"verified on the server at: {info.options['verify_schedule']}")
    _warn(result)


@app.command("edit")
@handle_errors
def edit(
    name: str,
    source: list[str] | None = typer.Option(None, "--source"),
    dest: str | None = typer.Option(None, "--dest"),
    prefix: str | None = typer.Option(None, "--prefix"),
    schedule: str | None = typer.Option(None, "--schedule", help="'' for manual only."),
    exclude: list[str] | None = Excludes,
    mode: str | None = typer.Option(None, "--mode"),
    bwlimit: str | None = typer.Option(None, "--bwlimit"),
    verify_schedule: str | None = typer.Option(
        None, "--verify-schedule", help="Cron expression; '' stops scheduled verification."
    ),
    verify_download: bool | None = typer.Option(
        None, "--verify-download/--no-verify-download", help=_DOWNLOAD_HELP
    ),
    restore_test_files: int | None = typer.Option(
        None, "--restore-test-files", help=_RESTORE_HELP + " 0: off."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Change a job and redeploy it."""
    old = jobs.get(name)
    info = jobs.spec(
        name,
        server=old.server,
        sources=source or old.sources,
        dest=dest or old.destination,
        prefix=old.prefix if prefix is None else prefix,
        schedule_expr=old.schedule if schedule is None else (schedule or None),
        timezone=jobs.pinned_timezone(old),  # a zone the user gave stays; else the server's
        excludes=old.excludes if exclude is None else exclude,
        mode=mode or old.mode,
        bwlimit=old.bwlimit if bwlimit is None else (bwlimit or None),
        options=_verify_options(old.options, verify_schedule, verify_download, restore_test_files),
        uid=old.uid,
    )
    result = run(jobs.redeploy(name, info))
    print_json(result) if as_json else console.print(f"updated job {name}", highlight=False)
    if not as_json:
        _warn(result)


@app.command("deploy")
@handle_errors
def deploy_(name: str, as_json: bool = JsonOpt) -> None:
    """Deploy the job again (repairs a crontab edited by hand or an outdated runner)."""
    result = run(jobs.redeploy(name))
    print_json(result) if as_json else console.print(f"deployed job {name}", highlight=False)


@app.command("remove")
@handle_errors
def remove(name: str, as_json: bool = JsonOpt) -> None:
    """Remove the job from its server (the bucket keeps its data)."""
    run(jobs.remove(name))
    print_json({"removed": name}) if as_json else console.print(f"removed job {name}")


@app.command("list")
@handle_errors
def list_(as_json: bool = JsonOpt) -> None:
    """List jobs."""
    infos = jobs.list_all()
    if as_json:
        print_json([i.as_dict() for i in infos])
        return
    table = Table("job", "server", "destination", "sources", "schedule", "mode")
    for i in infos:
        d = i.as_dict()
        table.add_row(
            i.name, i.server, i.destination, " ".join(i.sources), d["schedule_text"], i.mode
        )
    console.print(table)


@app.command("status")
@handle_errors
def status(name: str, as_json: bool = JsonOpt) -> None:
    """Show the last run (read from the server), next run and missed runs."""
    result = run(jobs.status(name))
    if as_json:
        print_json(result)
    else:
        console.print(
            f"[bold]{name}[/] on {result['server']}: {result['schedule_text']} "
            f"({result['timezone']}); next run {result['next_run'] or '-'}",
            highlight=False,
        )
        if result["last_run"]:
            _render_run(result["last_run"])
        else:
            console.print("no run yet")
        if result["missed"]:
            console.print(
                f"[bold red]missed:[/] {len(result['missed'])} scheduled runs never "
                f"started, last at {result['missed'][-1]}",
                highlight=False,
            )
            for reason in result["missed_reasons"]:
                console.print(f"  likely: {reason}", highlight=False)
    last = result["last_run"]
    if result["missed"] or (last and last["state"] not in ("success", "running", "skipped")):
        raise typer.Exit(1)


@app.command("run")
@handle_errors
def run_(
    name: str,
    wait: bool = typer.Option(False, "--wait", help="Wait for the run to finish."),
    as_json: bool = JsonOpt,
) -> None:
    """Start a run now, detached on the server (it survives a dropped connection)."""
    result = run(jobs.run_now(name, wait=wait))
    print_json(result) if as_json else _render_run(result)
    if wait and result["state"] not in ("success", "running"):
        raise typer.Exit(1)


def readable(text: str) -> str:
    """rclone's JSON log lines as people read them: time, level, object: message."""
    out = []
    for line in text.splitlines():
        if not line.startswith("{"):
            out.append(line)
            continue
        parsed = parse_log(line).lines
        if not parsed or not parsed[0].level:
            out.append(line)
            continue
        entry = parsed[0]
        when = (entry.time or "")[:19].replace("T", " ")
        body = entry.message.strip("\n")
        out.append(f"{when} {entry.level.upper():<6} {body}")
    return "\n".join(out) + ("\n" if out else "")


@app.command("log")
@handle_errors
def log(
    name: str,
    run_id: str | None = typer.Option(None, "--run", help="Run id (default: the last)."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    as_json: bool = JsonOpt,
) -> None:
    """Print a run's rclone log (the end of it)."""
    result = run(jobs.log(name, run_id))
    if as_json:
        print_json(result)
        return
    typer.echo(readable(result["log"]), nl=False)
    seen = result["log"]
    while follow:
        time.sleep(2)
        now = run(jobs.log(name, result["run"]))["log"]
        # The tail window slides: print what follows the last text already shown.
        overlap = now.rfind(seen[-4096:]) if seen else -1
        fresh = now[overlap + len(seen[-4096:]) :] if overlap >= 0 else now
        if fresh:
            typer.echo(readable(fresh), nl=False)
            seen = now
        if run(jobs.status(name))["last_run"]["state"] != "running":
            break


@app.command("prune")
@handle_errors
def prune(
    name: str,
    dry_run: bool = typer.Option(True, "--dry-run/--now", help="Preview (default) or delete."),
    as_json: bool = JsonOpt,
) -> None:
    """Show (or delete) the version folders past the job's retention."""
    result = run(jobs.prune(name, dry_run=dry_run))
    if as_json:
        print_json(result)
        return
    verb = "would delete" if dry_run else "deleted"
    console.print(
        f"{name}: {verb} {len(result['versions'])} version folder(s) older than "
        f"{result['keep_days']} days",
        highlight=False,
    )
    for v in result["versions"]:
        console.print(f"  versions/{v}", highlight=False)


@app.command("kill")
@handle_errors
def kill(name: str, as_json: bool = JsonOpt) -> None:
    """Kill This Process: stop the running run and everything it started."""
    result = run(jobs.kill(name))
    print_json(result) if as_json else _render_run(result)


@app.command("explain")
@handle_errors
def explain(
    name: str,
    run_id: str | None = typer.Option(None, "--run", help="Run id (default: the last)."),
    ask_ai: bool = typer.Option(False, "--ai", help="Also ask the configured AI model."),
    as_json: bool = JsonOpt,
) -> None:
    """Explain a run's outcome in plain words, with the evidence from its log."""
    result = run(jobs.explain(name, run_id, ask_ai=ask_ai))
    if as_json:
        print_json({"job": name, "run": result["run"], "ai": result.get("ai")})
        return
    _render_run(result["run"])
    if result.get("ai") is not None:
        render_ai(result["ai"])
