"""Alembic's environment for tagpin's store: the runner hands it an open connection, already in a transaction."""

from __future__ import annotations

from alembic import context

config = context.config
context.configure(connection=config.attributes["connection"], version_table=config.attributes["version_table"],
                  target_metadata=config.attributes.get("target_metadata"))
with context.begin_transaction():
    context.run_migrations()
