"""Rendering shared by every command: JSON or rich, and errors as cause + fix."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from ctrlops.errors import CtrlopsError
from ctrlops.services import servers

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("ctrlops")
console = Console()
err_console = Console(stderr=True)

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON.")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a service coroutine to completion, then close this command's connections."""

    async def main() -> T:
        try:
            return await coro
        finally:
            await servers.close_all()

    return asyncio.run(main())


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def handle_errors(func: Callable[P, T]) -> Callable[P, T]:
    """Turn a :class:`CtrlopsError` into its message and exit status.

    Bad input exits 2 with one line naming the field; an operation that ran and failed
    exits 1 with its cause and fix. With ``--json`` the error is also printed as JSON.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except CtrlopsError as e:
            if kwargs.get("as_json"):
                print_json({"ok": False, "error": e.as_dict()})
            err_console.print(f"[bold red]error:[/] {e.cause}", highlight=False, soft_wrap=True)
            if e.fix:
                err_console.print(f"[bold]fix:[/] {e.fix}", highlight=False, soft_wrap=True)
            raise typer.Exit(e.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as e:
            log.debug("unexpected error", exc_info=True)
            err_console.print(
                f"[bold red]unexpected error:[/] {type(e).__name__}: {e}",
                highlight=False,
                soft_wrap=True,
            )
            err_console.print("run again with --verbose for details, and report it as a bug")
            raise typer.Exit(1) from None

    return wrapper
