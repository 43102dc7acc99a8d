"""Index metrics by (run_id, key, step, timestamp): latest values per key and MLflow's duplicate check.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_INDEX = "ix_metrics_run_key_step_ts"


def _exists() -> bool:
    # A database created from schema.py but never stamped already has it (see migrate.ensure_schema), or has
    # points keyed by series (revision 0005's shape, with its own index) and no run_id column to index.
    inspector = sa.inspect(op.get_bind())
    if "run_id" not in {c["name"] for c in inspector.get_columns("metrics")}:
        return True
    return any(ix["name"] == _INDEX for ix in inspector.get_indexes("metrics"))


def upgrade() -> None:
    """Add the index (no-op when present)."""
    if not _exists():
        op.create_index(_INDEX, "metrics", ["run_id", "key", "step", "timestamp"])


def downgrade() -> None:
    """Drop the index."""
    if any(ix["name"] == _INDEX for ix in sa.inspect(op.get_bind()).get_indexes("metrics")):
        op.drop_index(_INDEX, table_name="metrics")
