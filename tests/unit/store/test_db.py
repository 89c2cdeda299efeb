from __future__ import annotations

import os
import stat
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from ctrlops import paths
from ctrlops.store import db, secrets


def test_it_knows_the_newest_migration() -> None:
    assert ScriptDirectory.from_config(db.alembic_config()).get_current_head() == db.HEAD


def test_it_creates_the_schema_in_a_new_private_store(ctrlops_home: Path) -> None:
    with db.session() as s:
        tables = set(inspect(s.get_bind()).get_table_names())
    assert {"servers", "destinations", "jobs", "runs", "settings"} <= tables
    assert stat.S_IMODE(os.stat(ctrlops_home).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(ctrlops_home / "ctrlops.db").st_mode) == 0o600


def test_it_encrypts_secrets_with_a_private_key_file() -> None:
    token = secrets.encrypt("hunter2")
    assert b"hunter2" not in token
    assert secrets.decrypt(token) == "hunter2"
    key = paths.home() / secrets.KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_it_migrates_to_exactly_the_tables_the_models_declare(ctrlops_home: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ctrlops.store.models import Base

    with db.session() as s:
        context = MigrationContext.configure(s.connection())
        assert compare_metadata(context, Base.metadata) == []


def test_it_upgrades_a_store_made_by_the_first_release(tmp_path: Path) -> None:
    from alembic import command
    from sqlalchemy import create_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = db.alembic_config()
    with create_engine(url).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with db.engine(url).connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("servers")}
        indexes = {i["name"] for i in inspect(conn).get_indexes("runs")}
    assert "last_check" in columns
    assert {"ix_runs_job_started", "ix_runs_job_state_started"} <= indexes
