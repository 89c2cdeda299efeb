"""``ctrlops serve``: the web UI on this machine."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from ctrlops.cli.output import console, err_console


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8700,
) -> None:
    """Start the web UI; prints its URL (and, on first start, the admin password once)."""
    import uvicorn

    from ctrlops.web import security
    from ctrlops.web.app import create_app

    generated = security.ensure_admin()
    app = create_app()
    if not is_loopback(host):
        # Plain HTTP beyond this machine sends the session cookie and the password in clear.
        err_console.print(
            f"[bold red]WARNING: listening on {host} without TLS.[/] Anyone on the network "
            "path can read the admin password and session. Bind to 127.0.0.1 and reach it "
            "through an SSH tunnel (`ssh -L 8700:127.0.0.1:8700 HOST`) or a TLS reverse proxy.",
            highlight=False,
        )
    shown = f"[{host}]" if ":" in host else host
    console.print(f"ctrlops web UI: http://{shown}:{port}/", highlight=False)
    if generated:
        console.print(
            f"admin password (shown only this once; set CTRLOPS_ADMIN_PASSWORD before the "
            f"first start to choose it): [bold]{generated}[/]",
            highlight=False,
        )
    # Live-update streams stay open; give them 3 s to end on Ctrl-C instead of waiting.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        server_header=False,
        timeout_graceful_shutdown=3,
    )
