"""Persistence: SQLite by default, PostgreSQL via ``CTRLOPS_DATABASE_URL``; secrets at rest."""
