"""The tables. Schema changes go through an Alembic revision in ``migrations/versions``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, dict[str, Any] | None: JSON, list[str]: JSON}


class Server(Base):
    __tablename__ = "servers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # "ssh" | "local"
    host: Mapped[str | None] = mapped_column(String(255))
    port: Mapped[int | None]
    user: Mapped[str | None] = mapped_column(String(64))
    key_path: Mapped[str | None] = mapped_column(String(4096))
    jump: Mapped[str | None] = mapped_column(String(512))
    # Pinned on first use (OpenSSH public key format); a different key is refused.
    host_key: Mapped[str | None] = mapped_column(String(16384))
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    checked_at: Mapped[datetime | None]
    # The last `server check` result (banners included), what pages show between checks.
    last_check: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    jobs: Mapped[list[Job]] = relationship(back_populates="server")


class Destination(Base):
    __tablename__ = "destinations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(16))
    bucket: Mapped[str] = mapped_column(String(255))
    region: Mapped[str | None] = mapped_column(String(64))
    endpoint: Mapped[str | None] = mapped_column(String(1024))
    account_id: Mapped[str | None] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(1024), default="")
    access_key_id: Mapped[str] = mapped_column(String(256))
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)  # see store.secrets
    last_test: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    jobs: Mapped[list[Job]] = relationship(back_populates="destination")


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # Names the job's directory and crontab line on the server; never reused, so two
    # control planes (or a reset store) cannot mistake one job's runs for another's.
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    server_id: Mapped[int] = mapped_column(ForeignKey("servers.id"))
    destination_id: Mapped[int] = mapped_column(ForeignKey("destinations.id"))
    sources: Mapped[list[str]] = mapped_column(default=list)
    excludes: Mapped[list[str]] = mapped_column(default=list)
    prefix: Mapped[str] = mapped_column(String(1024), default="")
    schedule: Mapped[str | None] = mapped_column(String(128))
    timezone: Mapped[str | None] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(8), default="copy")  # "copy" | "mirror"
    bwlimit: Mapped[str | None] = mapped_column(String(32))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(default=True)
    deployed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The latest scheduled verification as the last sync read it from the server (the
    # source of truth), for the overview's "verified" badge; None when never read.
    last_verify: Mapped[dict[str, Any] | None] = mapped_column(default=None)

    server: Mapped[Server] = relationship(back_populates="jobs")
    destination: Mapped[Destination] = relationship(back_populates="jobs")
    runs: Mapped[list[Run]] = relationship(back_populates="job", cascade="all, delete-orphan")


class Run(Base):
    """A cached copy of a run record that lives on the server (the source of truth)."""

    __tablename__ = "runs"
    __table_args__ = (
        UniqueConstraint("job_id", "run_id"),
        Index("ix_runs_job_started", "job_id", "started"),
        Index("ix_runs_job_state_started", "job_id", "state", "started"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(16))
    started: Mapped[datetime | None] = mapped_column(index=True)
    finished: Mapped[datetime | None]
    exit_code: Mapped[int | None]
    files_transferred: Mapped[int] = mapped_column(default=0)
    bytes_transferred: Mapped[int] = mapped_column(default=0)
    checks: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)
    diagnosis: Mapped[dict[str, Any]] = mapped_column(default=dict)

    job: Mapped[Job] = relationship(back_populates="runs")


class Setting(Base):
    """Small key/value settings (AI provider, alert URLs); secret values are encrypted."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
