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
