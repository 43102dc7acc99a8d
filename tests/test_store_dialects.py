"""The schema's options for one database only (partial indexes, SQLite's WITHOUT ROWID) reach that database's
tables, and opening a SQLite store never imports the PostgreSQL dialect (30-40 ms of a server's start-up)."""
from __future__ import annotations

import sqlite3
import subprocess
import sys

import sqlalchemy as sa

from azuremlcore._store.schema import ATTRIBUTE_LONG_INDEX, ATTRIBUTE_ORDER_INDEX
from azuremlcore._store.sql import SqlWorkspaceStore


def test_a_sqlite_store_loads_no_other_dialect(tmp_path):
    code = ("import sys\nfrom azuremlcore._store.sql import SqlWorkspaceStore\n"
            f"SqlWorkspaceStore('sqlite:///{tmp_path / 'w.db'}').close()\n"
            "print(sorted({m.split('.')[2] for m in sys.modules if m.startswith('sqlalchemy.dialects.')"
            " and not m.startswith('sqlalchemy.dialects._')}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['sqlite']"


def test_a_new_sqlite_database_has_the_partial_indexes_and_no_rowid_points(tmp_path):
    SqlWorkspaceStore(f"sqlite:///{tmp_path / 'w.db'}").close()
    con = sqlite3.connect(tmp_path / "w.db")
    sql = dict(con.execute("SELECT name, sql FROM sqlite_master WHERE name IN (?, ?, 'metrics')",
                           (ATTRIBUTE_ORDER_INDEX, ATTRIBUTE_LONG_INDEX)).fetchall())
    assert sql[ATTRIBUTE_ORDER_INDEX].endswith("WHERE length(value) <= 256")
    assert sql[ATTRIBUTE_LONG_INDEX].endswith("WHERE length(value) > 256")
    assert sql["metrics"].rstrip().endswith("WITHOUT ROWID")


def test_a_new_postgresql_database_has_the_partial_indexes(postgres_database):
    url = postgres_database("dialects")
    SqlWorkspaceStore(url).close()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        defs = dict(conn.exec_driver_sql("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = "
                                         "'run_attributes'").all())
    engine.dispose()
    assert "WHERE (length(value) <= 256)" in defs[ATTRIBUTE_ORDER_INDEX]
    assert "WHERE (length(value) > 256)" in defs[ATTRIBUTE_LONG_INDEX]
