"""``ctrlops explain [FILE|-]``: diagnose any pasted rclone log, offline."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from ctrlops.cli.output import JsonOpt, console, handle_errors, print_json, run
from ctrlops.diagnose.report import OK, explain_log
from ctrlops.errors import InputError
from ctrlops.services import ai

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


def render_ai(answer: dict[str, Any]) -> None:
    """Show the model's answer, or why the AI could not answer (the offline one stands)."""
    if answer.get("ok"):
        console.print(f"[bold]AI ({answer.get('model')}):[/] {answer['answer']}", highlight=False)
    else:
        console.print(
            f"[yellow]AI unavailable ({answer.get('category')}):[/] "
            f"{answer.get('cause')} — {answer.get('fix')}",
            highlight=False,
        )


@handle_errors
def explain(
    file: str = typer.Argument("-", help="An rclone log file, or - for standard input."),
    exit_code: int | None = typer.Option(None, "--exit-code", help="rclone's exit status."),
    provider: str | None = typer.Option(None, "--provider", help="aws, r2, b2, wasabi, ..."),
    ask_ai: bool = typer.Option(False, "--ai", help="Also ask the configured AI model."),
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
    text = data.decode("utf-8", "replace")
    d = explain_log(text, exit_code=exit_code, provider=provider)
    out = d.as_dict()
    answer = run(ai.explain(text, {"provider": provider}, out))["ai"] if ask_ai else None
    if as_json:
        print_json({**out, "ai": answer} if ask_ai else out)
    else:
        render_diagnosis(out)
        if answer is not None:
            render_ai(answer)
    if d.category not in (OK,):
        raise typer.Exit(1)
