"""Alembic environment: runs migrations on the connection the store hands over (never a URL of its own)."""
from __future__ import annotations

from alembic import context

from azuremlcore._store.schema import for_dialect

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=for_dialect(connection.dialect.name), render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
