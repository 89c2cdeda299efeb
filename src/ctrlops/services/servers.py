"""Servers: add, list, remove, check (layer by layer), trust a new host key, reconnect."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import object_session

from ctrlops.errors import ConnectionFailed, CtrlopsError, InputError, NotFoundError
from ctrlops.health.probes import REACHED_STATES, DestEvent, Known, ScheduledJob, banners
from ctrlops.remote.base import Remote
from ctrlops.remote.diagnose import LAYERS
from ctrlops.remote.local import LocalRemote
from ctrlops.remote.pool import POOL
from ctrlops.remote.ssh import DEFAULT_CONNECT_TIMEOUT, SSHRemote, SSHTarget, fingerprint, open_ssh
from ctrlops.server import facts as server_facts
from ctrlops.server.spec import ServerSpec
from ctrlops.store.db import session
from ctrlops.store.models import Job, Run, Server, utcnow


@dataclass(frozen=True)
class ServerInfo:
    """A detached snapshot of a stored server."""

    name: str
    kind: str
    host: str | None
    port: int | None
    user: str | None
    key_path: str | None
    jump: str | None
    host_key: str | None
    facts: dict[str, Any]

    @property
    def address(self) -> str:
        if self.kind == "local":
            return "this machine"
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{user}{self.host}{port}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "key": self.key_path,
            "jump": self.jump,
            "host_key_fingerprint": fingerprint(self.host_key) if self.host_key else None,
            "os": self.facts.get("os"),
            "timezone": self.facts.get("timezone"),
        }


def _info(row: Server) -> ServerInfo:
    return ServerInfo(
        row.name,
        row.kind,
        row.host,
        row.port,
        row.user,
        row.key_path,
        row.jump,
        row.host_key,
        dict(row.facts or {}),
    )


def default_timeout() -> float:
    try:
        return float(os.environ.get("CTRLOPS_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT))
    except ValueError:
        raise InputError("CTRLOPS_CONNECT_TIMEOUT", "must be a number of seconds") from None


def get(name: str) -> ServerInfo:
    """Return the stored server ``name``; raises NotFoundError."""
    with session() as s:
        row = s.scalar(select(Server).where(Server.name == name))
        if row is None:
            raise NotFoundError("server", name)
        return _info(row)


def list_all() -> list[ServerInfo]:
    with session() as s:
        return [_info(r) for r in s.scalars(select(Server).order_by(Server.name))]


def add(spec: ServerSpec) -> ServerInfo:
    """Store a new server; raises InputError if the name is taken. Nothing is contacted."""
    with session() as s:
        if s.scalar(select(Server.id).where(Server.name == spec.name)) is not None:
            raise InputError("name", f"a server named {spec.name!r} already exists")
        row = Server(
            name=spec.name,
            kind="local" if spec.local else "ssh",
            host=spec.host,
            port=spec.port,
            user=spec.user,
            key_path=spec.key,
            jump=spec.jump,
            facts={},
        )
        s.add(row)
        s.flush()
        return _info(row)


def remove(name: str) -> None:
    """Forget a server; refuses (InputError) while jobs still run on it."""
    with session() as s:
        row = s.scalar(select(Server).where(Server.name == name))
        if row is None:
            raise NotFoundError("server", name)
        if row.jobs:
            jobs = ", ".join(sorted(j.name for j in row.jobs))
            raise InputError(
                "name",
                f"server {name!r} still has jobs: {jobs}",
                "remove those jobs first (`ctrlops job remove NAME`)",
            )
        s.delete(row)


def _pin(name: str, host_key: str) -> None:
    with session() as s:
        row = s.scalar(select(Server).where(Server.name == name))
        if row is not None and row.host_key is None:
            row.host_key = host_key


def _target(info: ServerInfo, timeout: float, *, pinned: bool = True) -> SSHTarget:
    assert info.host is not None
    return SSHTarget(
        host=info.host,
        port=info.port,
        user=info.user,
        key_path=info.key_path,
        jump=info.jump,
        host_key=info.host_key if pinned else None,
        timeout=timeout,
        passphrase=os.environ.get("CTRLOPS_SSH_PASSPHRASE") or None,
        cloud=info.facts.get("cloud"),
    )


async def _open(info: ServerInfo, timeout: float) -> Remote:
    if info.kind == "local":
        return LocalRemote(info.name)

    def lost(exc: Exception | None) -> None:
        POOL.mark_lost(info.name, str(exc) if exc else "the server closed the connection")

    remote = await open_ssh(info.name, _target(info, timeout), on_lost=lost)
    if info.host_key is None:  # trust on first use
        _pin(info.name, remote.host_key)
    return remote


@asynccontextmanager
async def open_remote(name: str, timeout: float | None = None) -> AsyncIterator[Remote]:
    """Yield the server's shared connection (the backup shell), opening it if needed.

    Raises NotFoundError for an unknown name, ConnectionFailed when it cannot be reached.
    """
    info = get(name)
    yield await POOL.get(name, lambda: _open(info, timeout or default_timeout()))


def shell_state(name: str) -> dict[str, Any]:
    st = POOL.state(name)
    return {"state": st.state, "since": st.since, "reason": st.reason}


async def reconnect(name: str, timeout: float | None = None) -> dict[str, Any]:
    """Re-open the backup shell of ``name``; raises ConnectionFailed."""
    info = get(name)
    await POOL.reconnect(name, lambda: _open(info, timeout or default_timeout()))
    return shell_state(name)


async def close_all() -> None:
    await POOL.close_all()


_LOCAL_LAYERS = ("shell", "facts")


def _layers(
    names: tuple[str, ...], failed: str | None, detail: dict[str, str]
) -> list[dict[str, Any]]:
    """Every layer in ``names`` as ok / failed / not reached, given the failing one."""
    out: list[dict[str, Any]] = []
    reached = True
    for layer in names:
        if layer == failed:
            out.append({"layer": layer, "ok": False, "detail": detail.get(layer, "")})
            reached = False
        elif reached:
            out.append({"layer": layer, "ok": True, "detail": detail.get(layer, "")})
        else:
            out.append({"layer": layer, "ok": None, "detail": "not reached"})
    return out


async def _crontab_drift(remote: Remote, name: str) -> str:
    from ctrlops.services import jobs  # jobs build on servers; imported lazily

    if not any(j.server == name for j in jobs.list_all()):
        return ""
    return await jobs.crontab_drift(remote, name)


def _utc(value: datetime | str | None) -> datetime | None:
    """Aware UTC from a stored time (SQLite hands back naive datetimes, all UTC)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _dest_events(job: Job, tested: set[str]) -> list[DestEvent]:
    """The destination's last Test Connection (once per destination) and the job's last run."""
    out: list[DestEvent] = []
    dest = job.destination
    last = dict(dest.last_test or {})
    at = _utc(last.get("at"))
    if dest.name not in tested and at is not None:
        tested.add(dest.name)
        out.append(
            DestEvent(
                dest.name,
                at,
                bool(last.get("ok")),
                last.get("category"),
                str(last.get("cause") or ""),
                f"Test Connection from {last.get('server') or 'a server'}",
            )
        )
    # The newest ended run only: one index seek, not every run the store keeps.
    s = object_session(job)
    run = None
    if s is not None:
        run = s.scalar(
            select(Run)
            .where(Run.job_id == job.id, Run.state != "running", Run.started.is_not(None))
            .order_by(Run.started.desc())
            .limit(1)
        )
    when = _utc(run.finished or run.started) if run is not None else None
    if run is not None and when is not None:
        diagnosis = dict(run.diagnosis or {})
        out.append(
            DestEvent(
                dest.name,
                when,
                run.state in REACHED_STATES,
                diagnosis.get("category"),
                str(diagnosis.get("cause") or run.state),
                f"run {run.run_id} of job {job.name}",
            )
        )
    return out


def known(name: str, now: datetime | None = None) -> Known:
    """What the store knows that the banners compare with the server's facts.

    The zone each deployed scheduled job was recorded in, and for each destination its
    jobs here use: the last Test Connection and each job's last cached run.
    """
    scheduled: list[ScheduledJob] = []
    events: list[DestEvent] = []
    tested: set[str] = set()
    with session() as s:
        rows = s.scalars(select(Job).join(Server).where(Server.name == name).order_by(Job.name))
        for job in rows:
            if not job.enabled:
                continue
            if job.schedule and job.timezone and job.deployed_at is not None:
                scheduled.append(ScheduledJob(job.name, job.schedule, job.timezone))
            events += _dest_events(job, tested)
    return Known(name, scheduled, events, now or datetime.now(UTC))


async def check(name: str, timeout: float | None = None) -> dict[str, Any]:
    """Walk the connection layers of ``name`` and gather its facts.

    Returns ``{"ok", "server", "layer", "category", "cause", "fix", "layers", "facts",
    "shell"}``; ``layer`` is the first failing layer (None when ok). Raises NotFoundError.
    """
    info = get(name)
    detail: dict[str, str] = {}
    result: dict[str, Any] = {
        "server": name,
        "ok": False,
        "layer": None,
        "category": None,
        "cause": "",
        "fix": "",
        "facts": {},
    }
    try:
        async with open_remote(name, timeout) as remote:
            if isinstance(remote, SSHRemote):
                peer = remote.conn.get_extra_info("peername")
                detail["dns"] = str(peer[0]) if peer else ""
                detail["tcp"] = f"port {peer[1]}" if peer else ""
                detail["banner"] = str(remote.conn.get_extra_info("server_version") or "")
                detail["host_key"] = fingerprint(remote.host_key)
                detail["auth"] = str(remote.conn.get_extra_info("username") or "")
            facts = await server_facts.gather(remote)
            facts["crontab_drift"] = await _crontab_drift(remote, name)
    except ConnectionFailed as e:
        result.update(layer=e.layer, category=e.category, cause=e.cause, fix=e.fix)
        if e.category == "shell_disconnected":
            result["layer"] = "shell"
    except CtrlopsError as e:  # the shell answered but cannot run the facts script
        result.update(layer="shell", category="shell_unusable", cause=e.cause, fix=e.fix)
    else:
        detail["shell"] = "sh runs"
        detail["facts"] = f"{facts.get('os')} {facts.get('arch')}, tz {facts.get('timezone')}"
        with session() as s:
            row = s.scalar(select(Server).where(Server.name == name))
            if row is not None:
                row.facts, row.checked_at = facts, utcnow()
        result.update(ok=True, facts=facts)
    result["layers"] = _layers(
        _LOCAL_LAYERS if info.kind == "local" else LAYERS, result["layer"], detail
    )
    result["shell"] = shell_state(name)
    result["banners"] = banners(result, info, known(name)) if result["ok"] else []
    _keep(result)
    return result


def _keep(check: dict[str, Any]) -> None:
    """Keep ``check`` as the server's last check: pages and metrics show it until the next."""
    with session() as s:
        row = s.scalar(select(Server).where(Server.name == check["server"]))
        if row is not None:
            row.last_check, row.checked_at = _jsonable(check), utcnow()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


async def check_all(timeout: float | None = None) -> list[dict[str, Any]]:
    """Check every server concurrently; one bad server never hides the others."""
    names = [s.name for s in list_all()]
    results = await asyncio.gather(*(check(n, timeout) for n in names), return_exceptions=True)
    out: list[dict[str, Any]] = []
    for n, r in zip(names, results, strict=True):
        if isinstance(r, BaseException):
            out.append(
                {
                    "server": n,
                    "ok": False,
                    "layer": None,
                    "category": "other",
                    "cause": str(r),
                    "fix": "",
                    "facts": {},
                    "layers": [],
                    "banners": [],
                }
            )
        else:
            out.append(r)
    return out


async def trust(name: str, fp: str, timeout: float | None = None) -> ServerInfo:
    """Pin the host key the server offers now, if its fingerprint is ``fp``.

    Raises CtrlopsError when the offered key has another fingerprint (nothing changes).
    """
    info = get(name)
    if info.kind == "local":
        raise InputError("name", f"{name} is this machine; it has no host key")
    remote = await open_ssh(name, _target(info, timeout or default_timeout(), pinned=False))
    try:
        offered = fingerprint(remote.host_key)
    finally:
        await remote.close()
    if offered != fp:
        raise CtrlopsError(
            f"{name} offers {offered}, not {fp}; nothing was changed",
            "compare the fingerprint again with the one shown on the server",
            category="host_key_changed",
        )
    with session() as s:
        row = s.scalar(select(Server).where(Server.name == name))
        assert row is not None
        row.host_key = remote.host_key
    await POOL.discard(name)
    return get(name)
