"""Engine and sessions. The schema is brought to the newest revision on first use."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from ctrlops import paths

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions (a test keeps the two in step). Knowing it
# lets every command skip importing Alembic when the schema is already current.
HEAD = "0003"


def alembic_config() -> Config:
    from alembic.config import Config

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
    if _revision(eng) != HEAD:
        from alembic import command

        cfg = alembic_config()
        with eng.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    return eng


def _revision(eng: Engine) -> str | None:
    try:
        with eng.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DatabaseError:  # no table yet: a new store
        return None


@functools.cache
def _factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine(url), expire_on_commit=False)


@contextmanager
def session() -> Iterator[Session]:
    """A short unit of work: committed on success, rolled back on any exception."""
    with _factory(paths.database_url()).begin() as s:
        yield s
