"""Destinations: add, list, show, change credentials, remove, and Test Connection.

The secret access key is only ever stored encrypted (``store.secrets``) and never
returned: every dict this module hands out shows it masked.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ctrlops.errors import ConnectionFailed, CtrlopsError, InputError, NotFoundError
from ctrlops.rclone.providers import DestinationSpec, rclone_config
from ctrlops.remote.base import Remote
from ctrlops.remote.exec import MASK
from ctrlops.services import servers
from ctrlops.storage import connection_test
from ctrlops.storage.connection_test import TestResult
from ctrlops.store import secrets
from ctrlops.store.db import session
from ctrlops.store.models import Destination, Job


def _spec(row: Destination) -> DestinationSpec:
    return DestinationSpec(
        name=row.name,
        provider=row.provider,  # validated when stored
        bucket=row.bucket,
        region=row.region,
        endpoint=row.endpoint,
        account_id=row.account_id,
        access_key_id=row.access_key_id,
        prefix=row.prefix,
    )


def _info(row: Destination) -> dict[str, Any]:
    try:
        spec = _spec(row)
        region, endpoint = spec.effective_region or None, spec.effective_endpoint
    except InputError:
        # Stored under older, looser rules: still show it, so it can be removed or fixed.
        region, endpoint = row.region, row.endpoint
    return {
        "name": row.name,
        "provider": row.provider,
        "bucket": row.bucket,
        "prefix": row.prefix,
        "region": region,
        "endpoint": endpoint,
        "account_id": row.account_id,
        "access_key_id": row.access_key_id,
        "secret_access_key": MASK,
        "last_test": dict(row.last_test or {}),
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def _row(s: Session, name: str) -> Destination:
    row = s.scalars(select(Destination).where(Destination.name == name)).one_or_none()
    if row is None:
        raise NotFoundError("dest", name)
    return row


def add(spec: DestinationSpec, secret: str) -> dict[str, Any]:
    """Store ``spec`` with its ``secret`` encrypted; return the destination (masked).

    Raises :class:`InputError` for an unusable secret or a name already taken; nothing is
    written then.
    """
    rclone_config(spec, secret)  # the same check the server-side config will need
    with session() as s:
        taken = s.scalars(select(Destination.id).where(Destination.name == spec.name)).first()
        if taken is not None:
            raise InputError(
                "name", f"a destination named {spec.name!r} exists", "pick another name"
            )
        row = Destination(
            name=spec.name,
            provider=spec.provider,
            bucket=spec.bucket,
            region=spec.region,
            endpoint=spec.endpoint,
            account_id=spec.account_id,
            access_key_id=spec.access_key_id,
            prefix=spec.prefix,
            secret_enc=secrets.encrypt(secret),
            last_test={},
        )
        s.add(row)
        s.flush()
        return _info(row)


def list_all() -> list[dict[str, Any]]:
    """Return every destination (masked), by name."""
    with session() as s:
        return [_info(r) for r in s.scalars(select(Destination).order_by(Destination.name))]


def show(name: str) -> dict[str, Any]:
    """Return destination ``name`` (masked); raises :class:`NotFoundError`."""
    with session() as s:
        return _info(_row(s, name))


def load(name: str) -> tuple[DestinationSpec, str]:
    """Return the spec and the decrypted secret of ``name``, for rendering its config.

    Raises :class:`NotFoundError`, or ``CtrlopsError`` when the secret cannot be decrypted.
    """
    with session() as s:
        row = _row(s, name)
        return _spec(row), secrets.decrypt(row.secret_enc)


async def set_credentials(
    name: str, secret: str | None, *, access_key_id: str | None = None
) -> dict[str, Any]:
    """Replace the key of ``name`` (the id, the secret or both), then redeploy its jobs.

    The servers keep the key in each job's rclone.conf, so every job using ``name`` is
    deployed again; one that fails is reported, not raised, and the others still go.
    Returns the destination (masked) plus ``"redeployed"`` (job names) and ``"failed"``
    (``[{"job", "category", "cause", "fix"}]``). The last Test Connection stays as it was:
    only a new one says whether the new key works. Raises :class:`NotFoundError`, or
    :class:`InputError` when nothing is given or a value is unusable (nothing is written).
    """
    from ctrlops.services import jobs  # jobs build on destinations; imported lazily

    if secret is None and access_key_id is None:
        raise InputError(
            "secret_access_key", "nothing to change: give a new secret and/or --access-key-id"
        )
    with session() as s:
        row = _row(s, name)
        fields = _spec(row).model_dump()
        spec = DestinationSpec(**{**fields, "access_key_id": access_key_id or row.access_key_id})
        new_secret = secret if secret is not None else secrets.decrypt(row.secret_enc)
        rclone_config(spec, new_secret)  # the same check ``add`` makes
        row.access_key_id = spec.access_key_id
        row.secret_enc = secrets.encrypt(new_secret)
        users = sorted(s.scalars(select(Job.name).where(Job.destination_id == row.id)).all())
    redeployed: list[str] = []
    failed: list[dict[str, Any]] = []
    for job in users:
        try:
            await jobs.redeploy(job)
        except CtrlopsError as e:
            failed.append({"job": job, **e.as_dict()})
        else:
            redeployed.append(job)
    return {**show(name), "redeployed": redeployed, "failed": failed}


def remove(name: str) -> None:
    """Delete destination ``name``.

    Raises :class:`InputError` while a job still uses it (its backups would stop).
    """
    with session() as s:
        row = _row(s, name)
        users = s.scalars(select(Job.name).where(Job.destination_id == row.id)).all()
        if users:
            raise InputError(
                "dest",
                f"{name!r} is used by job(s) {', '.join(sorted(users))}",
                "remove those jobs or point them at another destination first",
            )
        s.delete(row)


async def test_with_remote(name: str, remote: Remote, *, timeout: float = 20) -> TestResult:
    """Run Test Connection for ``name`` on ``remote``, save it as the last test, return it."""
    spec, secret = load(name)
    result = await connection_test.test_destination(remote, spec, secret, timeout=timeout)
    record = {**result.as_dict(), "server": remote.name, "at": datetime.now(UTC).isoformat()}
    with session() as s:
        _row(s, name).last_test = record
    return result


async def test(name: str, server_name: str, *, timeout: float = 20) -> TestResult:
    """Run Test Connection for ``name`` from server ``server_name``; return the result.

    Raises :class:`NotFoundError` for an unknown destination or server. A server that
    cannot be reached is a failed result at step ``"server"``.
    """
    load(name)  # an unknown destination fails before connecting to anything
    started = time.monotonic()
    try:
        async with servers.open_remote(server_name) as remote:
            return await test_with_remote(name, remote, timeout=timeout)
    except ConnectionFailed as e:
        # The server, not the destination, failed: same result shape, step "server", and
        # the destination's last test is left as it was.
        took = round(time.monotonic() - started, 3)
        step = {"step": "server", "ok": False, "seconds": took}
        return TestResult(False, "server", e.category, e.cause, e.fix, "", (step,))


test.__test__ = False  # type: ignore[attr-defined]  # a use case, not a pytest test
