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


def _exists() -> bool:
    return any(ix["name"] == _INDEX for ix in sa.inspect(op.get_bind()).get_indexes("workspaces"))


def upgrade() -> None:
    """Add the case-insensitive unique index, unless existing rows already break it."""
    if _exists():
        return
    bind = op.get_bind()
    clashes = bind.execute(sa.text(f"SELECT {_COLUMNS}, count(*) FROM workspaces GROUP BY {_COLUMNS} "
                                   "HAVING count(*) > 1")).all()
    if clashes:
        names = ", ".join(f"{r[0]}/{r[1]}/{r[2]}" for r in clashes[:5])
        warnings.warn(f"Workspaces whose names differ only by case exist ({names}); the case-insensitive "
                      "unique index was not created; the store still refuses new case variants.")
        return
    op.execute(f"CREATE UNIQUE INDEX {_INDEX} ON workspaces ({_COLUMNS})")


def downgrade() -> None:
    """Drop the index."""
    if _exists():
        op.drop_index(_INDEX, table_name="workspaces")
