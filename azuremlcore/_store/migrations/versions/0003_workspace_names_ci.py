"""Workspace coordinates unique without regard to case (Azure resource names are case-insensitive).

A database from before this revision may already hold two workspaces whose coordinates differ only
by case; the index cannot be built over them, so it is then left out with a warning (lookups still
prefer the exact spelling, and the store refuses new case variants), and nothing is renamed or lost.

Revision ID: 0003
Revises: 0002
"""
import warnings

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_INDEX = "uq_workspace_coordinates_ci"
_COLUMNS = "lower(subscription_id), lower(resource_group), lower(name)"


def upgrade() -> None:
    """Add the case-insensitive unique index, unless existing rows already break it."""
    bind = op.get_bind()
    clashes = bind.execute(sa.text(f"SELECT {_COLUMNS}, count(*) FROM workspaces GROUP BY {_COLUMNS} "
                                   "HAVING count(*) > 1")).all()
    if clashes:
        names = ", ".join(f"{r[0]}/{r[1]}/{r[2]}" for r in clashes[:5])
        warnings.warn(f"Workspaces whose names differ only by case exist ({names}); the case-insensitive "
                      "unique index was not created; the store still refuses new case variants.")
        return
    # IF NOT EXISTS: a database created from schema.py but never stamped already has it (SQLAlchemy does
    # not reflect expression indexes, so asking the inspector cannot tell).
    op.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {_INDEX} ON workspaces ({_COLUMNS})")


def downgrade() -> None:
    """Drop the index."""
    op.execute(f"DROP INDEX IF EXISTS {_INDEX}")
