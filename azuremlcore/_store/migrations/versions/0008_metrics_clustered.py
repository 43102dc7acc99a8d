"""Metric points keyed (and, on SQLite, stored) by (series_id, id); plain floats insert with fewer columns.

Before: a rowid table with two indexes, (series_id, id) and (series_id, step, timestamp): every
point written went into three B-trees, and a history was an index range with a table lookup per
point. Now the points' primary key is (series_id, id): on SQLite the table itself (WITHOUT ROWID),
so an insert updates two B-trees and a history is one contiguous range of the table; on PostgreSQL
(a heap) the primary key's index replaces both the id index and (series_id, id). `kind` and
`is_nan` get defaults (a plain float's), so a batch of plain floats binds fewer values a point.
Ids are kept: history page tokens given before the upgrade still work, and new ids continue after
the largest (SQLite: `metric_id_counter`, a WITHOUT ROWID table has no rowid to count with;
PostgreSQL: the same `metrics_id_seq`).

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_COLUMNS = 'series_id, id, kind, "value", is_nan, value_json, step, "timestamp"'
_STEP_INDEX = "CREATE INDEX ix_metrics_series_step_ts ON metrics (series_id, step, \"timestamp\")"


def _sqlite_rebuild(clustered: bool) -> None:
    """SQLite: copy the points into a table of the wanted shape (in key order: appends only), swap it in."""
    if clustered:
        op.execute('CREATE TABLE metrics_new (series_id INTEGER NOT NULL, id INTEGER NOT NULL, '
                   "kind VARCHAR(24) DEFAULT 'scalar' NOT NULL, \"value\" FLOAT, is_nan BOOLEAN DEFAULT 0 NOT NULL, "
                   'value_json TEXT, step BIGINT NOT NULL, "timestamp" BIGINT NOT NULL, '
                   'PRIMARY KEY (series_id, id)) WITHOUT ROWID')
        order = "series_id, id"
    else:
        op.execute('CREATE TABLE metrics_new (id INTEGER NOT NULL PRIMARY KEY, series_id INTEGER NOT NULL, '
                   'kind VARCHAR(24) NOT NULL, "value" FLOAT, is_nan BOOLEAN NOT NULL, value_json TEXT, '
                   'step BIGINT NOT NULL, "timestamp" BIGINT NOT NULL)')
        order = "id"
    op.execute(f"INSERT INTO metrics_new ({_COLUMNS}) SELECT {_COLUMNS} FROM metrics ORDER BY {order}")
    op.execute("DROP TABLE metrics")
    op.execute("ALTER TABLE metrics_new RENAME TO metrics")
    if not clustered:
        op.execute("CREATE INDEX ix_metrics_series ON metrics (series_id, id)")
    op.execute(_STEP_INDEX)


def upgrade() -> None:
    """Points keyed by (series_id, id); the id counter for SQLite."""
    bind = op.get_bind()
    if sa.inspect(bind).has_table("metric_id_counter"):
        return
    op.create_table("metric_id_counter", sa.Column("one", sa.Integer, primary_key=True, autoincrement=False),
                    sa.Column("last_id", sa.BigInteger, nullable=False))
    op.execute("INSERT INTO metric_id_counter (one, last_id) SELECT 1, COALESCE(MAX(id), 0) FROM metrics")
    if bind.dialect.name == "sqlite":
        _sqlite_rebuild(clustered=True)
        return
    op.execute("ALTER TABLE metrics DROP CONSTRAINT metrics_pkey")
    op.execute("ALTER TABLE metrics ADD CONSTRAINT metrics_pkey PRIMARY KEY (series_id, id)")
    op.execute("DROP INDEX ix_metrics_series")
    op.execute("ALTER TABLE metrics ALTER COLUMN kind SET DEFAULT 'scalar', ALTER COLUMN is_nan SET DEFAULT false")


def downgrade() -> None:
    """Points keyed by id again, with the (series_id, id) index; the counter dropped."""
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("metric_id_counter"):
        return
    if bind.dialect.name == "sqlite":
        _sqlite_rebuild(clustered=False)
    else:
        op.execute("ALTER TABLE metrics ALTER COLUMN kind DROP DEFAULT, ALTER COLUMN is_nan DROP DEFAULT")
        op.execute("CREATE INDEX ix_metrics_series ON metrics (series_id, id)")
        op.execute("ALTER TABLE metrics DROP CONSTRAINT metrics_pkey")
        op.execute("ALTER TABLE metrics ADD CONSTRAINT metrics_pkey PRIMARY KEY (id)")
    op.drop_table("metric_id_counter")
