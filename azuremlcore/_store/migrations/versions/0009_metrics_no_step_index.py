"""The points lose their (series_id, step, timestamp) index; each series keeps its highest (step, timestamp).

Before: every point written went into the points' table and the step index (two B-trees on
SQLite, measured as much as the clustering of 0008 saved). What sought on that index was MLflow's
duplicate check of a batch (a retried batch adds nothing) and a chart's step range. Now
`metric_series` holds each series' highest (step, timestamp) (hi_step, hi_timestamp) and a bound
below the ids of its points at that rank (hi_id): a batch logged in order ranks above and reads no
point; a batch at that rank reads the series from hi_id; any other (a retry, points logged out of
order) reads the series' range of the table. A chart's step range is MIN/MAX over that range,
beside its buckets' scan of the same range.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_STEP_INDEX = "ix_metrics_series_step_ts"


def upgrade() -> None:
    """The series' highest points filled in (seeking on the step index while it is there), then the index dropped."""
    bind = op.get_bind()
    if "hi_step" in {c["name"] for c in sa.inspect(bind).get_columns("metric_series")}:
        return  # a database made at this revision (it never had the index)
    for name in ("hi_step", "hi_timestamp", "hi_id"):
        op.add_column("metric_series", sa.Column(name, sa.BigInteger))
    top = "FROM metrics m WHERE m.series_id = metric_series.id ORDER BY m.step DESC, m.\"timestamp\" DESC LIMIT 1"
    op.execute(f'UPDATE metric_series SET hi_step = (SELECT m.step {top}), hi_timestamp = (SELECT m."timestamp" {top})')
    op.execute('UPDATE metric_series SET hi_id = (SELECT MIN(m.id) FROM metrics m WHERE m.series_id = metric_series.id '
               'AND m.step = metric_series.hi_step AND m."timestamp" = metric_series.hi_timestamp) '
               'WHERE hi_step IS NOT NULL')
    op.drop_index(_STEP_INDEX, table_name="metrics")


def downgrade() -> None:
    """The step index built again; the series' highest points dropped."""
    bind = op.get_bind()
    if "hi_step" not in {c["name"] for c in sa.inspect(bind).get_columns("metric_series")}:
        return
    op.create_index(_STEP_INDEX, "metrics", ["series_id", "step", "timestamp"])
    for name in ("hi_id", "hi_timestamp", "hi_step"):
        op.drop_column("metric_series", name)
