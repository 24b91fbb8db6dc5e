"""Alembic environment: the engine is handed over by workflows.persistence.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import workflows.persistence.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = context.config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        context.run_migrations()


run_migrations_online()
