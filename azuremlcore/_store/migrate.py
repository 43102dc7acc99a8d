"""Bring a database to the current schema: create it when empty, else apply Alembic migrations."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from azuremlcore._store.schema import for_dialect

HEAD_REVISION = "0009"
_MIGRATIONS = Path(__file__).with_name("migrations")


def _alembic_config(connection: sa.Connection):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


# Alembic's own version table, as `alembic stamp` makes it: a new database is stamped without importing
# Alembic (its import and plugin scan of every installed package's entry points took 0.13-0.4 s of a server's
# first start).
_VERSION_TABLE = sa.Table("alembic_version", sa.MetaData(),
                          sa.Column("version_num", sa.String(32), nullable=False),
                          sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))


def ensure_schema(engine: sa.Engine) -> None:
    """Create or upgrade the schema; cheap when the database is already at head (one query, no Alembic import).

    A new database gets the current tables and is stamped at HEAD_REVISION directly; only an older
    database is upgraded through Alembic's migrations.
    """
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        if inspector.has_table("alembic_version"):
            current = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            if current == HEAD_REVISION:
                return
    with engine.begin() as conn:
        inspector = sa.inspect(conn)
        if not inspector.has_table("workspaces"):
            for_dialect(conn.dialect.name).create_all(conn)
            _VERSION_TABLE.create(conn, checkfirst=True)
            conn.execute(_VERSION_TABLE.delete())
            conn.execute(_VERSION_TABLE.insert().values(version_num=HEAD_REVISION))
            return
        from alembic import command

        command.upgrade(_alembic_config(conn), "head")
