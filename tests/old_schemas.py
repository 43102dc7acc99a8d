"""Databases as earlier schema revisions left them, for migration tests (written here, not by the migrations)."""
from __future__ import annotations

import sqlalchemy as sa

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _metrics_0004() -> sa.Table:
    """The points table of revisions 0001-0004: keyed by run id and key, two indexes starting with them."""
    return sa.Table(
        "metrics", sa.MetaData(),
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(256), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("value", sa.Float(precision=53)),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.Column("value_json", sa.Text),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Index("ix_metrics_run_key", "run_id", "key", "id"),
        sa.Index("ix_metrics_run_key_step_ts", "run_id", "key", "step", "timestamp"))


def to_revision_0004(url: str) -> None:
    """Turn a database at head into revision 0004's shape, keeping every point (and its id): points keyed by
    run id and key, no metric_series table; stamped 0004."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            rows = conn.exec_driver_sql(
                'SELECT m.id, s.run_id, s."key", m.kind, m."value", m.is_nan, m.value_json, m.step, m."timestamp" '
                "FROM metrics m JOIN metric_series s ON s.id = m.series_id ORDER BY m.id").all()
            conn.exec_driver_sql("DROP TABLE metrics")
            conn.exec_driver_sql("DROP TABLE metric_series")
            conn.exec_driver_sql("DROP TABLE IF EXISTS metric_id_counter")
            _refill(conn, _metrics_0004(), rows, "0004")
    finally:
        engine.dispose()


def _refill(conn: sa.Connection, old: sa.Table, rows: list, revision: str) -> None:
    """Create the old points table, put the rows (ids kept) in it and stamp the database at `revision`."""
    old.create(conn)
    if rows:
        conn.execute(old.insert(), [dict(zip(old.c.keys(), r)) for r in rows])
    if conn.dialect.name == "postgresql":
        # The head's metrics_id_seq went with its table (it owns it); BIGSERIAL made a new one.
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('metrics', 'id'), "
                             "(SELECT COALESCE(MAX(id), 0) + 1 FROM metrics), false)")
    conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{revision}'")


def downgrade(url: str, revision: str) -> None:
    """Run the migrations down to `revision` (the downgrades themselves, unlike the to_revision_* shapes)."""
    from alembic import command

    from azuremlcore._store.migrate import _alembic_config

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            command.downgrade(_alembic_config(conn), revision)
    finally:
        engine.dispose()


def _metrics_0006() -> sa.Table:
    """The points table of revisions 0005-0006: a row id, indexes (series_id, id) and (series_id, step, timestamp)."""
    return sa.Table(
        "metrics", sa.MetaData(),
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("series_id", _ID, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("value", sa.Float(precision=53)),
        sa.Column("is_nan", sa.Boolean, nullable=False),
        sa.Column("value_json", sa.Text),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Index("ix_metrics_series", "series_id", "id"),
        sa.Index("ix_metrics_series_step_ts", "series_id", "step", "timestamp"))


def to_revision_0006(url: str) -> None:
    """Turn a database at head into revision 0006's shape, keeping every point (and its id): points in a table keyed
    by id with a (series_id, id) index, no id counter; stamped 0006."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            rows = conn.exec_driver_sql('SELECT id, series_id, kind, "value", is_nan, value_json, step, "timestamp" '
                                        "FROM metrics ORDER BY id").all()
            conn.exec_driver_sql("DROP TABLE metrics")
            conn.exec_driver_sql("DROP TABLE metric_id_counter")
            for column in ("hi_step", "hi_timestamp", "hi_id"):  # each series' highest point: 0009's
                conn.exec_driver_sql(f"ALTER TABLE metric_series DROP COLUMN {column}")
            _refill(conn, _metrics_0006(), rows, "0006")
    finally:
        engine.dispose()
