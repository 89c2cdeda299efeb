"""Engine and sessions. The schema is brought to the newest revision on first use."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from ctrlops import paths

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the web UI read while a CLI command writes; busy_timeout turns a
    # concurrent write into a short wait instead of "database is locked".
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


@functools.cache
def engine(url: str) -> Engine:
    """Return the engine for ``url`` with its schema migrated to head."""
    eng = create_engine(url)
    if eng.dialect.name == "sqlite":
        event.listen(eng, "connect", _sqlite_pragmas)
        if eng.url.database:
            Path(eng.url.database).touch(mode=0o600, exist_ok=True)
    cfg = alembic_config()
    with eng.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return eng


@functools.cache
def _factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine(url), expire_on_commit=False)


@contextmanager
def session() -> Iterator[Session]:
    """A short unit of work: committed on success, rolled back on any exception."""
    with _factory(paths.database_url()).begin() as s:
        yield s
