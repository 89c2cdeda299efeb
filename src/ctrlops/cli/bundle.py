"""``ctrlops bundle JOB``: the support bundle for a failing job, redacted, in one file."""

from __future__ import annotations

from pathlib import Path

import typer

from ctrlops.cli.output import JsonOpt, console, handle_errors, print_json, run
from ctrlops.services import bundle as bundle_service


@handle_errors
def bundle(
    job: str = typer.Argument(..., help="The job to gather details for."),
    out: str | None = typer.Option(
        None, "--out", help="File or directory to write to (default: bundles/ in ctrlops home)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Gather what support asks for (log, destination, time, banners), secrets removed."""
    result = run(bundle_service.bundle(job, Path(out) if out else None))
    if as_json:
        print_json(result)
        return
    console.print(f"[bold]support bundle[/] written to {result['path']}", highlight=False)
    run_id = result["run"] or "none (the job has not run)"
    console.print(f"  job {result['job']}, run {run_id}", highlight=False)
    for name in result["files"]:
        console.print(f"  {name}", highlight=False)
    console.print("Secrets are masked; read summary.md before you share it.", highlight=False)
