"""The embedded demo: a local S3 server, this machine, a sample job, a real backup.

Everything a newcomer needs to see a backup land with no account anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from ctrlops import paths
from ctrlops.embedded.s3 import LocalS3
from ctrlops.errors import NotFoundError
from ctrlops.rclone.providers import DestinationSpec
from ctrlops.server.spec import parse_spec
from ctrlops.services import destinations, health, jobs, servers
from ctrlops.store.db import session
from ctrlops.store.models import Destination

SERVER, DEST, JOB, BUCKET = "this-machine", "demo-s3", "demo-backup", "ctrlops-demo"

SAMPLE = {
    "README.txt": "Files backed up by the ctrlops demo.\n",
    "etc/app.conf": "listen = 127.0.0.1:8080\nworkers = 4\n",
    "www/index.html": "<h1>It works</h1>\n",
}


def start_s3() -> LocalS3:
    """Start the demo's S3 server (credentials kept under the data directory)."""
    return LocalS3.persistent(paths.home() / "demo-s3").start()


def _sample_tree() -> Path:
    root = paths.home() / "demo-data"
    for rel, text in SAMPLE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(text)
    return root


def _ensure_destination(s3: LocalS3) -> None:
    spec = DestinationSpec(
        name=DEST,
        provider="minio",
        bucket=BUCKET,
        endpoint=s3.endpoint,
        access_key_id=s3.rw.access_key_id,
    )
    try:
        destinations.show(DEST)
    except NotFoundError:
        destinations.add(spec, s3.rw.secret_access_key)
        return
    with session() as s:  # the demo server may have moved to another free port
        row = s.scalar(select(Destination).where(Destination.name == DEST))
        if row is not None:
            row.endpoint = s3.endpoint


async def prepare(s3: LocalS3) -> dict[str, Any]:
    """Register this machine, the demo destination and job; run the job once.

    Returns ``{"server": check, "test": Test Connection, "run": the run}``.
    """
    try:
        servers.get(SERVER)
    except NotFoundError:
        servers.add(parse_spec(name=SERVER, local=True))
    check = await servers.check(SERVER)
    if any(b["id"] == "rclone_missing" for b in check["banners"]):
        check = (await health.apply_fix(SERVER, "install-rclone"))["check"]
    _ensure_destination(s3)
    s3.make_bucket(BUCKET)
    test = await destinations.test(DEST, SERVER)
    try:
        jobs.get(JOB)
    except NotFoundError:
        info = jobs.spec(
            JOB,
            server=SERVER,
            sources=[str(_sample_tree())],
            dest=DEST,
            # Manual only: a schedule would leave a crontab line on this machine that
            # fails every hour once the demo's S3 server is stopped.
            schedule_expr=None,
            mode="mirror",
        )
        await jobs.add(info)
    run = await jobs.run_now(JOB, wait=True, timeout=300)
    return {"server": check, "test": test.as_dict(), "run": run}
