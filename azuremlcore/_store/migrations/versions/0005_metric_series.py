"""Metric points keyed by a small integer series id: the metric_series table, one row per (run, key).

Points carried the 32-character run id and the key, and both metrics indexes started with them:
half of storing a batch was SQLite inserting into those indexes. Now a point carries its series'
id, its indexes are (series_id, id) and (series_id, step, timestamp), and a history is one
integer range. The points table is rebuilt (SQLite cannot drop a column under a foreign key), keeping
every point's id, so history page tokens given before the upgrade still work.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_POINT_COLUMNS = 'kind, "value", is_nan, value_json, step, "timestamp"'


def _point_columns() -> list[sa.Column]:
    return [sa.Column("kind", sa.String(24), nullable=False), sa.Column("value", sa.Float(precision=53)),
            sa.Column("is_nan", sa.Boolean, nullable=False), sa.Column("value_json", sa.Text),
            sa.Column("step", sa.BigInteger, nullable=False), sa.Column("timestamp", sa.BigInteger, nullable=False)]


def _swap(new: str, indexes: dict[str, list[str]]) -> None:
    """Drop `metrics`, rename the rebuilt table `new` to it, and give it its indexes (and, on PostgreSQL,
    the names and id sequence a database created from schema.py has)."""
    bind = op.get_bind()
    op.drop_table("metrics")
    op.rename_table(new, "metrics")
    if bind.dialect.name == "postgresql":
        seq = bind.exec_driver_sql("SELECT pg_get_serial_sequence('metrics', 'id')").scalar()
        # The copied rows kept their ids: the sequence continues after the largest.
        op.execute(f"SELECT setval('{seq}', COALESCE((SELECT MAX(id) FROM metrics), 0) + 1, false)")
        op.execute(f"ALTER SEQUENCE {seq} RENAME TO metrics_id_seq")
        op.execute(f"ALTER INDEX {new}_pkey RENAME TO metrics_pkey")
        for fk in sa.inspect(bind).get_foreign_keys("metrics"):
            if fk["name"] and fk["name"].startswith(new):
                op.execute(f'ALTER TABLE metrics RENAME CONSTRAINT {fk["name"]} TO metrics{fk["name"][len(new):]}')
    for name, columns in indexes.items():
        op.create_index(name, "metrics", columns)


def upgrade() -> None:
    """Make a series per stored (run, key) and rebuild the points on series ids."""
    if sa.inspect(op.get_bind()).has_table("metric_series"):
        return
    op.create_table(
        "metric_series",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(256), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.UniqueConstraint("run_id", "key", name="uq_metric_series_run_key"))
    op.execute('INSERT INTO metric_series (run_id, "key") SELECT DISTINCT run_id, "key" FROM metrics '
               'ORDER BY run_id, "key"')
    op.create_table(
        "metrics_new",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("series_id", _ID, nullable=False),  # no foreign key: see schema.py
        *_point_columns())
    op.execute(f'INSERT INTO metrics_new (id, series_id, {_POINT_COLUMNS}) '
               f'SELECT m.id, s.id, {", ".join("m." + c for c in _POINT_COLUMNS.split(", "))} FROM metrics m '
               f'JOIN metric_series s ON s.run_id = m.run_id AND s."key" = m."key" ORDER BY m.id')
    _swap("metrics_new", {"ix_metrics_series": ["series_id", "id"],
                          "ix_metrics_series_step_ts": ["series_id", "step", "timestamp"]})


def downgrade() -> None:
    """Points keyed by run id and key again; the series table dropped."""
    if not sa.inspect(op.get_bind()).has_table("metric_series"):
        return
    op.create_table(
        "metrics_old",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(256), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        *_point_columns())
    op.execute(f'INSERT INTO metrics_old (id, run_id, "key", {_POINT_COLUMNS}) '
               f'SELECT m.id, s.run_id, s."key", {", ".join("m." + c for c in _POINT_COLUMNS.split(", "))} '
               f'FROM metrics m JOIN metric_series s ON s.id = m.series_id ORDER BY m.id')
    _swap("metrics_old", {"ix_metrics_run_key": ["run_id", "key", "id"],
                          "ix_metrics_run_key_step_ts": ["run_id", "key", "step", "timestamp"]})
    op.drop_table("metric_series")
