"""Alembic environment: runs on the connection handed over by ``store.db``."""

from alembic import context
from sqlalchemy import create_engine

from ctrlops import paths
from ctrlops.store.models import Base

config = context.config
target_metadata = Base.metadata

connection = config.attributes.get("connection")
if connection is None:  # `alembic` run by hand, e.g. to autogenerate a revision
    with create_engine(paths.database_url()).begin() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
