"""``ctrlops ai ...``: configure the AI assistant and check it (doctor)."""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from rich.table import Table

from ctrlops.cli.output import JsonOpt, console, handle_errors, print_json, run
from ctrlops.errors import InputError
from ctrlops.services import ai

app = typer.Typer(help="The AI assistant: an OpenAI-compatible model that explains failures.")

API_KEY_ENV = "CTRLOPS_AI_API_KEY"
_MARK = {True: "[green]ok[/]", False: "[red]FAILED[/]", None: "[yellow]skipped[/]"}


def _read_key(from_stdin: bool, base_url: str | None) -> str | None:
    """Return a new API key from stdin, the environment or a hidden prompt (never argv).

    ``None`` means keep the stored key. The prompt is only offered in a terminal when no
    key is stored yet and the provider is not a local one (which needs none).
    Raises :class:`InputError` when stdin was asked for and is empty.
    """
    if from_stdin:
        key = sys.stdin.readline().strip()
        if not key:
            raise InputError("api_key", "--api-key-stdin was given but stdin was empty")
        return key
    if os.environ.get(API_KEY_ENV):
        return os.environ[API_KEY_ENV]
    if sys.stdin.isatty() and not ai.show()["api_key"] and not ai.is_local(base_url):
        key = typer.prompt("API key (empty to skip)", default="", hide_input=True)
        return key.strip() or None
    return None


def _render_settings(d: dict[str, Any]) -> None:
    table = Table(title="AI assistant", title_justify="left", show_header=False, box=None)
    for key in ("base_url", "model", "timeout", "api_key"):
        value = d.get(key)
        table.add_row(f"  {key}", "(not set)" if value is None else str(value))
    console.print(table, highlight=False)
    if not d.get("configured"):
        console.print("not configured: `ctrlops ai config --base-url URL --model NAME`")


@app.command("config")
@handle_errors
def config(
    base_url: str | None = typer.Option(
        None, "--base-url", help="OpenAI-compatible API, e.g. https://api.openai.com/v1."
    ),
    model: str | None = typer.Option(None, "--model", help="Model name, e.g. gpt-4o-mini."),
    timeout: float | None = typer.Option(None, "--timeout", help="Seconds to wait for an answer."),
    api_key_stdin: bool = typer.Option(
        False, "--api-key-stdin", help=f"Read the API key from stdin (else ${API_KEY_ENV})."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Show the settings (no options), or change them; the key never comes from argv."""
    changing = api_key_stdin or any(v is not None for v in (base_url, model, timeout))
    if not changing:
        info = ai.show()
    else:
        # Validate what was typed before asking for the key.
        ai.validate(base_url=base_url, model=model, timeout=timeout)
        key = _read_key(api_key_stdin, base_url)
        info = ai.config(base_url=base_url, model=model, timeout=timeout, api_key=key)
    if as_json:
        print_json(info)
    else:
        _render_settings(info)
        if changing:
            console.print("saved; check it with `ctrlops ai doctor`")


@app.command("doctor")
@handle_errors
def doctor(as_json: bool = JsonOpt) -> None:
    """Check the provider: settings, URL, reachability, key, model, a tiny completion."""
    result = run(ai.doctor())
    if as_json:
        print_json(result)
    else:
        for step in result["steps"]:
            detail = f"  [dim]{step['detail']}[/]" if step.get("detail") else ""
            console.print(
                f"  {step['step']:<11} {_MARK[step['ok']]}  {step['seconds']:.2f} s{detail}",
                highlight=False,
                soft_wrap=True,
            )
        if result["ok"]:
            console.print(f"[green]ok:[/] {result['cause']}", highlight=False)
        else:
            console.print(
                f"[bold red]{result['category']}[/] at {result['step']}: {result['cause']}",
                highlight=False,
                soft_wrap=True,
            )
            console.print(f"[bold]fix:[/] {result['fix']}", highlight=False, soft_wrap=True)
    raise typer.Exit(0 if result["ok"] else 1)
