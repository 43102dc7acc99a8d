"""Alembic migrations of the workspace store (a package so that installers ship it)."""
