"""Baseline: the schema as first released.

A new database is created from schema.py and stamped at head (Alembic's recipe for building an
up-to-date database from scratch), so this revision has nothing to do; later revisions alter
existing databases with explicit operations.

Revision ID: 0001
Revises:
"""
revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing: databases at this revision were created from schema.py."""


def downgrade() -> None:
    """Nothing to undo."""
