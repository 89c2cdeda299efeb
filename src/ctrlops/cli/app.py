"""The ``ctrlops`` command."""

from __future__ import annotations

import logging
import os

import typer

from ctrlops import __version__
from ctrlops.cli import ai, alerts, destinations, jobs, servers
from ctrlops.cli.bundle import bundle
from ctrlops.cli.explain import explain
from ctrlops.cli.output import console, handle_errors, run
from ctrlops.cli.restore import restore, verify
from ctrlops.cli.serve import serve

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
app.add_typer(ai.app, name="ai")
app.add_typer(alerts.app, name="alert")
app.command("explain")(explain)
app.command("restore")(restore)
app.command("bundle")(bundle)
app.command("serve")(serve)
jobs.app.command("verify")(verify)


@app.command("demo")
@handle_errors
def demo(
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Then serve the web UI."),
    port: int = typer.Option(8700, "--port", min=1, max=65535, help="Web UI port."),
) -> None:
    """Embedded demo: local S3 + this machine + a sample job, backed up for real, then
    the web UI (until Ctrl-C)."""
    from ctrlops.services import demo as demo_service

    s3 = demo_service.start_s3()
    try:
        result = run(demo_service.prepare(s3))
        console.print(
            f"[bold]local S3[/] at {s3.endpoint} (data in {s3.data_dir})", highlight=False
        )
        check = result["server"]
        console.print(
            f"[bold]server[/] {demo_service.SERVER}: "
            + ("reachable" if check["ok"] else check["cause"]),
            highlight=False,
        )
        for b in check["banners"]:
            console.print(f"  [yellow]! {b['text']}[/] ({b['evidence']})", highlight=False)
        t = result["test"]
        console.print(
            f"[bold]Test Connection[/] {demo_service.DEST}: "
            + ("ok" if t["ok"] else f"{t['category']}: {t['cause']}"),
            highlight=False,
        )
        r = result["run"]
        console.print(
            f"[bold]backup[/] {demo_service.JOB}: {r['state']}, "
            f"{r['files_transferred']} files copied, {r['checks']} checked",
            highlight=False,
        )
        console.print(
            "try: ctrlops job status demo-backup | ctrlops job log demo-backup | "
            "ctrlops server check this-machine"
        )
        if wait:
            console.print("the local S3 server and the web UI run until you press Ctrl-C")
            serve(host="127.0.0.1", port=port)
    finally:
        s3.stop()


def main() -> None:
    app()
