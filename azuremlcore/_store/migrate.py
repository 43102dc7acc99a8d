"""Bring a database to the current schema: create it when empty, else apply Alembic migrations."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from azuremlcore._store.schema import metadata

HEAD_REVISION = "0006"
_MIGRATIONS = Path(__file__).with_name("migrations")


def _alembic_config(connection: sa.Connection):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def ensure_schema(engine: sa.Engine) -> None:
    """Create or upgrade the schema; cheap when the database is already at head (one query, no Alembic import)."""
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        if inspector.has_table("alembic_version"):
            current = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            if current == HEAD_REVISION:
                return
    with engine.begin() as conn:
        from alembic import command

        cfg = _alembic_config(conn)
        if not sa.inspect(conn).has_table("workspaces"):
            metadata.create_all(conn)
            command.stamp(cfg, "head")
        else:
            command.upgrade(cfg, "head")
