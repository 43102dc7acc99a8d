"""Searching runs at scale: the latest_metrics table, and runs indexed by (experiment_id, number).

latest_metrics holds each run's latest float point per key (kept by every metric write), filled
here from the metrics already stored. With it a search filters and orders runs by a metric with
index seeks, instead of ranking every point of every candidate run's history.
runs(experiment_id, number) makes the next run number of an experiment one index seek (it was a
scan of the experiment's runs on every run created).

Revision ID: 0004
Revises: 0003
"""
import warnings

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_RUNS_INDEX = "ix_runs_experiment_number"
_BACKFILL = """
INSERT INTO latest_metrics (run_id, "key", experiment_id, kind, "value", is_nan, value_json, step, "timestamp")
SELECT run_id, "key", experiment_id, kind, "value", is_nan, value_json, step, "timestamp" FROM (
    SELECT m.run_id, m."key", r.experiment_id, m.kind, m."value", m.is_nan, m.value_json, m.step, m."timestamp",
           row_number() OVER (PARTITION BY m.run_id, m."key" ORDER BY m.step DESC, m."timestamp" DESC,
                              m.is_nan ASC, m."value" DESC, m.id DESC) AS rank
    FROM metrics m JOIN runs r ON r.id = m.run_id
    WHERE m."value" IS NOT NULL AND m.kind IN ('scalar', 'list')) ranked
WHERE rank = 1
"""


def _has_index(table: str, name: str) -> bool:
    with warnings.catch_warnings():  # SQLAlchemy warns that it skips expression indexes (ix_runs_experiment_start)
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        return any(ix["name"] == name for ix in sa.inspect(op.get_bind()).get_indexes(table))


def upgrade() -> None:
    """Add the index and the table, and fill the table from the stored metrics."""
    if not _has_index("runs", _RUNS_INDEX):
        op.create_index(_RUNS_INDEX, "runs", ["experiment_id", "number"])
    if not sa.inspect(op.get_bind()).has_table("latest_metrics"):
        op.create_table(
            "latest_metrics",
            sa.Column("run_id", sa.String(256), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
            sa.Column("key", sa.String(250), primary_key=True),
            sa.Column("experiment_id", sa.String(64), nullable=False),
            sa.Column("kind", sa.String(24), nullable=False),
            sa.Column("value", sa.Float(precision=53), nullable=False),
            sa.Column("is_nan", sa.Boolean, nullable=False),
            sa.Column("value_json", sa.Text),
            sa.Column("step", sa.BigInteger, nullable=False),
            sa.Column("timestamp", sa.BigInteger, nullable=False))
        op.create_index("ix_latest_metrics_order", "latest_metrics", ["experiment_id", "key", "is_nan", "value"])
        op.execute(_BACKFILL)


def downgrade() -> None:
    """Drop the table and the index."""
    if sa.inspect(op.get_bind()).has_table("latest_metrics"):
        op.drop_table("latest_metrics")
    if _has_index("runs", _RUNS_INDEX):
        op.drop_index(_RUNS_INDEX, table_name="runs")
