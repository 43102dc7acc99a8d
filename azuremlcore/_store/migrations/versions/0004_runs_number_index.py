"""Index runs by (experiment_id, number): the next run number of an experiment is one index seek.

It was a scan of the experiment's runs on every run created, growing with each one (100k runs in
one experiment: a few milliseconds per create_run, on top of everything else).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_INDEX = "ix_runs_experiment_number"


def _exists() -> bool:
    return any(ix["name"] == _INDEX for ix in sa.inspect(op.get_bind()).get_indexes("runs"))


def upgrade() -> None:
    """Add the index (no-op when present)."""
    if not _exists():
        op.create_index(_INDEX, "runs", ["experiment_id", "number"])


def downgrade() -> None:
    """Drop the index."""
    if _exists():
        op.drop_index(_INDEX, table_name="runs")
