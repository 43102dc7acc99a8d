"""The workspace store's tables, declared once for SQLite and PostgreSQL alike.

Times are integer milliseconds since the epoch (MLflow's unit), so the MLflow bridge maps them
without conversion. JSON documents are TEXT so both databases store them unchanged.
"""
from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("subscription_id", sa.String(128), nullable=False),
    sa.Column("resource_group", sa.String(128), nullable=False),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("location", sa.String(64), nullable=False),
    sa.Column("sku", sa.String(32), nullable=False),
    sa.Column("friendly_name", sa.String(256)),
    sa.Column("description", sa.Text),
    sa.Column("tags_json", sa.Text, nullable=False, default="{}"),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("subscription_id", "resource_group", "name", name="uq_workspace_coordinates"),
)
# Azure resource names are case-insensitive: one workspace per coordinates whatever their case.
WORKSPACE_CI_INDEX = "uq_workspace_coordinates_ci"
sa.Index(WORKSPACE_CI_INDEX, sa.func.lower(workspaces.c.subscription_id), sa.func.lower(workspaces.c.resource_group),
         sa.func.lower(workspaces.c.name), unique=True)

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("workspace_id", sa.String(64), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("last_update_time", sa.BigInteger, nullable=False),
    sa.Column("archived_time", sa.BigInteger),
    sa.UniqueConstraint("workspace_id", "name", name="uq_experiment_name"),
)

experiment_tags = sa.Table(
    "experiment_tags",
    metadata,
    sa.Column("experiment_id", sa.String(64), sa.ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(256), primary_key=True),
    sa.Column("workspace_id", sa.String(64), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    sa.Column("experiment_id", sa.String(64), sa.ForeignKey("experiments.id", ondelete="CASCADE"), nullable=False),
    sa.Column("parent_id", sa.String(256), index=True),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("type", sa.String(64)),
    sa.Column("display_name", sa.String(256)),
    sa.Column("description", sa.Text),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("target", sa.String(128)),
    sa.Column("submitted_by", sa.String(256)),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("start_time", sa.BigInteger),
    sa.Column("end_time", sa.BigInteger),
    sa.Column("lifecycle_stage", sa.String(16), nullable=False, default="active"),
    sa.Column("details_json", sa.Text, nullable=False, default="{}"),
    sa.Index("ix_runs_experiment_created", "experiment_id", "created_time"),
    sa.Index("ix_runs_experiment_number", "experiment_id", "number"),  # the next run number: one seek
)

# MLflow's default order (start time, newest first), and any order by start time, walks this index within one
# experiment and stops at the page's end. A run not started yet sorts by its creation time, as searches say.
RUNS_START_INDEX = "ix_runs_experiment_start"
sa.Index(RUNS_START_INDEX, runs.c.experiment_id, sa.func.coalesce(runs.c.start_time, runs.c.created_time))

# Tags (mutable), properties (write-once, Azure ML) and params (write-once, MLflow) share one shape.
run_attributes = sa.Table(
    "run_attributes",
    metadata,
    sa.Column("run_id", sa.String(256), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# A search ordered by a param or tag walks that key's values in order on ATTRIBUTE_ORDER_INDEX and stops when the
# page is full. Short values only (partial indexes: a btree entry of PostgreSQL holds at most 2.7 kB, and MLflow
# allows 6,000-8,000 characters); ATTRIBUTE_LONG_INDEX tells, in one seek, whether a key has longer values (the
# search then sorts). Queries must repeat the index's condition as it is written here to use it.
ATTRIBUTE_ORDER_INDEX, ATTRIBUTE_LONG_INDEX, ATTRIBUTE_SHORT = "ix_run_attributes_order", "ix_run_attributes_long", 256
_short = sa.func.length(run_attributes.c.value) <= ATTRIBUTE_SHORT
_long = sa.func.length(run_attributes.c.value) > ATTRIBUTE_SHORT
_order_index = sa.Index(ATTRIBUTE_ORDER_INDEX, run_attributes.c.kind, run_attributes.c.key, run_attributes.c.value)
_long_index = sa.Index(ATTRIBUTE_LONG_INDEX, run_attributes.c.kind, run_attributes.c.key)

# One row per (run, key): a metric's history. Points carry its small integer id instead of the run id and
# key, so their indexes hold a few bytes per point and a history is one integer range of an index.
# hi_step, hi_timestamp: the highest (step, timestamp) of the series' points (NULL: none yet), raised by every
# write in its transaction; hi_id: no point at that rank has a smaller id. MLflow's duplicate check of a batch
# (a retried batch adds nothing) reads no point when every point of the batch ranks above, and only the ids from
# hi_id when none ranks below: the points need no (series_id, step, timestamp) index (a third B-tree per insert).
metric_series = sa.Table(
    "metric_series",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(256), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("hi_step", sa.BigInteger),
    sa.Column("hi_timestamp", sa.BigInteger),
    sa.Column("hi_id", sa.BigInteger),
    sa.UniqueConstraint("run_id", "key", name="uq_metric_series_run_key"),
)

# One row per logged value, clustered on (series_id, id): a history is one contiguous range of the table
# itself, and an insert updates one B-tree (SQLite; PostgreSQL: the heap and the primary key's index). `value` is what MLflow
# sees (NULL for values MLflow cannot hold: strings, rows, tables); `value_json` keeps the Python type an Azure
# ML user logged. `id` is the logging order across the workspace (history pages are keyed by it): PostgreSQL
# takes it from the metrics_id_seq sequence, SQLite (WITHOUT ROWID: no rowid to count with) from
# metric_id_counter. kind and is_nan default to a plain float's, so a batch of plain floats binds four or five
# values a point instead of eight (binding was a third of SQLite's insert).
metrics = sa.Table(
    "metrics",
    metadata,
    # No foreign key: PostgreSQL checks one with a trigger per inserted row (a third to a half of COPYing a
    # batch, measured). Points are written only under a series the same transaction found or made, and
    # deleted with their series (SqlWorkspaceStore._delete_experiments).
    sa.Column("series_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False),
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(24), nullable=False, server_default="scalar"),
    sa.Column("value", sa.Float(precision=53)),
    sa.Column("is_nan", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("value_json", sa.Text),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    # WITHOUT ROWID on SQLite: see _DIALECT_OPTIONS.
)
sa.event.listen(metrics, "before_create", sa.DDL("CREATE SEQUENCE IF NOT EXISTS metrics_id_seq").execute_if(
    dialect="postgresql"))
sa.event.listen(metrics, "after_create", sa.DDL(
    "ALTER TABLE metrics ALTER COLUMN id SET DEFAULT nextval('metrics_id_seq')").execute_if(dialect="postgresql"))
sa.event.listen(metrics, "after_create", sa.DDL("ALTER SEQUENCE metrics_id_seq OWNED BY metrics.id").execute_if(
    dialect="postgresql"))

# SQLite's last metrics.id given (one row): a write takes its points' ids here under the write lock it holds.
metric_id_counter = sa.Table(
    "metric_id_counter",
    metadata,
    sa.Column("one", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("last_id", sa.BigInteger, nullable=False),
)
sa.event.listen(metric_id_counter, "after_create", sa.DDL("INSERT INTO metric_id_counter (one, last_id) VALUES (1, 0)"))

# Each run's latest float point per key (MLflow's "latest": max by step, timestamp, value; NaN lowest), kept by
# every metric write in the same transaction, so searches filter and order runs by a metric with index seeks
# instead of ranking whole histories. experiment_id is the run's (never changes): searches walk one
# experiment's values of one key in order on ix_latest_metrics_order and stop at the page's end.
latest_metrics = sa.Table(
    "latest_metrics",
    metadata,
    sa.Column("run_id", sa.String(256), sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("experiment_id", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("value", sa.Float(precision=53), nullable=False),
    sa.Column("is_nan", sa.Boolean, nullable=False, default=False),
    sa.Column("value_json", sa.Text),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Index("ix_latest_metrics_order", "experiment_id", "key", "is_nan", "value"),
)

# Versioned named things of a workspace: environments, models, datasets, datastores, compute targets.
assets = sa.Table(
    "assets",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("workspace_id", sa.String(64), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("spec_json", sa.Text, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("tags_json", sa.Text, nullable=False, default="{}"),
    sa.Column("properties_json", sa.Text, nullable=False, default="{}"),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.UniqueConstraint("workspace_id", "kind", "name", "version", name="uq_asset_version"),
)

secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column("workspace_id", sa.String(64), sa.ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Options only one database's DDL reads, set on their objects by `for_dialect` when that database's tables are
# created. Given to the constructors (sqlite_where=..., postgresql_where=...), they make SQLAlchemy import each
# named dialect to check them: PostgreSQL's, with its asyncpg and psycopg modules, was 30-40 ms of a SQLite
# server's start-up (measured), for options only `create_all` on PostgreSQL reads.
_DIALECT_OPTIONS: dict[str, list[tuple[sa.Index | sa.Table, dict[str, object]]]] = {
    "sqlite": [(_order_index, {"where": _short}), (_long_index, {"where": _long}), (metrics, {"with_rowid": False})],
    "postgresql": [(_order_index, {"where": _short}), (_long_index, {"where": _long})],
}


def for_dialect(dialect_name: str) -> sa.MetaData:
    """`metadata` with the options of one database set (partial indexes, SQLite's WITHOUT ROWID): what creating
    or comparing that database's tables must use. Loads only that dialect, which its engine has loaded already."""
    for obj, options in _DIALECT_OPTIONS.get(dialect_name, ()):
        obj.dialect_options[dialect_name].update(options)
    return metadata
