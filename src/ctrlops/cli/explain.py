"""``ctrlops explain [FILE|-]``: diagnose any pasted rclone log, offline."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ctrlops.cli.output import JsonOpt, console, handle_errors, print_json
from ctrlops.diagnose.report import OK, explain_log
from ctrlops.errors import InputError

MAX_LOG_BYTES = 64 * 1024 * 1024


def render_diagnosis(d: dict[str, object]) -> None:
    ok = d["category"] == OK
    colour = "green" if ok else "red"
    console.print(f"[bold {colour}]{d['category']}[/]: {d['cause']}", highlight=False)
    if d.get("fix"):
        console.print(f"[bold]fix:[/] {d['fix']}", highlight=False)
    if d.get("failed_files"):
        console.print(f"failed files: {d['failed_files']}", highlight=False)
        for path in d.get("failed_paths") or []:  # type: ignore[attr-defined]
            console.print(f"  {path}", highlight=False)
    for line in d.get("evidence") or []:  # type: ignore[attr-defined]
        console.print(f"[dim]  > {line}[/]", highlight=False, soft_wrap=True)


@handle_errors
def explain(
    file: str = typer.Argument("-", help="An rclone log file, or - for standard input."),
    exit_code: int | None = typer.Option(None, "--exit-code", help="rclone's exit status."),
    provider: str | None = typer.Option(None, "--provider", help="aws, r2, b2, wasabi, ..."),
    as_json: bool = JsonOpt,
) -> None:
    """Explain why an rclone run failed (or that it did not), in plain words."""
    if file == "-":
        data = sys.stdin.buffer.read(MAX_LOG_BYTES)
    else:
        path = Path(file)
        if not path.is_file():
            raise InputError("FILE", f"no such file: {file}")
        with path.open("rb") as f:
            # A huge log: the end holds the summary and the final attempt.
            size = path.stat().st_size
            f.seek(max(0, size - MAX_LOG_BYTES))
            data = f.read()
    d = explain_log(data.decode("utf-8", "replace"), exit_code=exit_code, provider=provider)
    out = d.as_dict()
    if as_json:
        print_json(out)
    else:
        render_diagnosis(out)
    if d.category not in (OK,):
        raise typer.Exit(1)
