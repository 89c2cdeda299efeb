"""The ``ctrlops`` command."""

from __future__ import annotations

import logging
import os

import typer

from ctrlops import __version__
from ctrlops.cli import destinations, jobs, servers
from ctrlops.cli.explain import explain

app = typer.Typer(
    name="ctrlops",
    help="Agentless, verifiable backups of Linux servers to S3-compatible storage.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ctrlops {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log remote commands."),
) -> None:
    """ctrlops keeps servers backed up to S3 and tells you when they are not."""
    level = logging.DEBUG if verbose or os.environ.get("CTRLOPS_DEBUG") else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


app.add_typer(servers.app, name="server")
app.add_typer(destinations.app, name="dest")
app.add_typer(jobs.app, name="job")
app.command("explain")(explain)


def main() -> None:
    app()
