"""The SQL workspace store below the SDK: schema creation and migration, assets, attributes."""
from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from azuremlcore._store.errors import InvalidValueError, NotFoundError
from azuremlcore._store.migrate import HEAD_REVISION
from azuremlcore._store.records import RunRecord, WorkspaceRecord
from azuremlcore._store.sql import SqlWorkspaceStore
from old_schemas import to_revision_0004


@pytest.fixture
def store(tmp_path):
    s = SqlWorkspaceStore(f"sqlite:///{tmp_path / 'w.db'}")
    yield s
    s.close()


@pytest.fixture
def ws_id(store):
    return store.create_workspace(WorkspaceRecord(id="", subscription_id="s", resource_group="r", name="w")).id


def test_new_database_is_stamped_at_head_in_wal_mode(store, tmp_path):
    con = sqlite3.connect(tmp_path / "w.db")
    assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == HEAD_REVISION
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_at_head_does_not_load_alembic(store, tmp_path):
    code = ("import sys\nfrom azuremlcore._store.sql import SqlWorkspaceStore\n"
            f"SqlWorkspaceStore('sqlite:///{tmp_path / 'w.db'}')\nprint('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_creating_a_database_does_not_load_alembic(tmp_path):
    # A server's first start: Alembic's import and plugin scan cost more than the rest of opening the store.
    code = ("import sys\nfrom azuremlcore._store.sql import SqlWorkspaceStore\n"
            f"SqlWorkspaceStore('sqlite:///{tmp_path / 'new.db'}')\nprint('alembic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_head_revision_is_the_last_migration_and_alembic_reads_the_stamp(store, tmp_path):
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from azuremlcore._store.migrate import _alembic_config

    with store._engine.connect() as conn:
        assert ScriptDirectory.from_config(_alembic_config(conn)).get_current_head() == HEAD_REVISION
        assert MigrationContext.configure(conn).get_current_revision() == HEAD_REVISION


def test_database_without_version_is_brought_to_head(tmp_path):
    s = SqlWorkspaceStore(f"sqlite:///{tmp_path / 'old.db'}")
    s.close()
    con = sqlite3.connect(tmp_path / "old.db")
    con.execute("DROP TABLE alembic_version")
    con.commit()
    con.close()
    SqlWorkspaceStore(f"sqlite:///{tmp_path / 'old.db'}").close()
    con = sqlite3.connect(tmp_path / "old.db")
    assert con.execute("SELECT version_num FROM alembic_version").fetchone()[0] == HEAD_REVISION


def test_assets_are_versioned(store, ws_id):
    a1 = store.put_asset(ws_id, "environment", "env", {"pip": ["six"]}, tags={"t": "1"})
    a2 = store.put_asset(ws_id, "environment", "env", {"pip": ["six", "idna"]})
    store.put_asset(ws_id, "model", "env", {"path": "x"})
    assert (a1.version, a2.version) == (1, 2)
    assert store.get_asset(ws_id, "environment", "env").spec == {"pip": ["six", "idna"]}
    assert store.get_asset(ws_id, "environment", "env", version=1).tags == {"t": "1"}
    assert [a.version for a in store.list_assets(ws_id, "environment")] == [1, 2]
    store.update_asset(ws_id, "environment", "env", 1, description="first")
    assert store.get_asset(ws_id, "environment", "env", 1).description == "first"
    store.delete_asset(ws_id, "environment", "env", 2)
    assert store.get_asset(ws_id, "environment", "env").version == 1
    assert store.get_asset(ws_id, "environment", "nope") is None
    with pytest.raises(NotFoundError):
        store.update_asset(ws_id, "environment", "env", 9, description="x")


def test_params_are_write_once_and_nothing_partial_is_stored(store, ws_id):
    exp = store.get_or_create_experiment(ws_id, "e")
    store.create_run(RunRecord(id="r1", workspace_id=ws_id, experiment_id=exp.id))
    store.set_run_attributes("r1", "param", {"lr": "0.1"}, write_once=True)
    with pytest.raises(InvalidValueError, match="write-once"):
        store.set_run_attributes("r1", "param", {"new": "1", "lr": "0.2"}, write_once=True)
    assert store.get_run("r1").params == {"lr": "0.1"}
    with pytest.raises(NotFoundError):
        store.set_run_attributes("nope", "tag", {"a": "b"})


def test_run_numbers_increase_per_experiment(store, ws_id):
    e1, e2 = store.get_or_create_experiment(ws_id, "a"), store.get_or_create_experiment(ws_id, "b")
    nums = [store.create_run(RunRecord(id=f"r{i}", workspace_id=ws_id, experiment_id=e.id)).number
            for i, e in enumerate([e1, e1, e2, e1])]
    assert nums == [1, 2, 1, 3]


def test_upgrade_to_0004_fills_latest_metrics_from_stored_points(tmp_path):
    import math

    from azuremlcore._store.records import MetricPoint

    s = SqlWorkspaceStore(f"sqlite:///{tmp_path / 'old.db'}")
    ws = s.create_workspace(WorkspaceRecord(id="", subscription_id="s", resource_group="r", name="w")).id
    exp = s.create_experiment(ws, "e").id
    s.create_run(RunRecord(id="r1", workspace_id=ws, experiment_id=exp, status="Running"))
    s.log_metrics([MetricPoint("r1", "a", "scalar", v, None, step, ts)
                   for v, step, ts in ((1.0, 0, 5), (3.0, 2, 1), (2.0, 2, 1), (math.nan, 2, 1), (9.0, 1, 9))])
    s.log_metrics([MetricPoint("r1", "s", "text", None, '"x"', 0, 1)])
    expected = s.latest_metrics(["r1"])
    s.close()
    to_revision_0004(f"sqlite:///{tmp_path / 'old.db'}")
    con = sqlite3.connect(tmp_path / "old.db")  # back to 0003: no table, no index
    con.execute("DROP TABLE latest_metrics")
    con.execute("DROP INDEX ix_runs_experiment_number")
    con.execute("UPDATE alembic_version SET version_num = '0003'")
    con.commit()
    con.close()
    s = SqlWorkspaceStore(f"sqlite:///{tmp_path / 'old.db'}")
    assert s.latest_metrics(["r1"]) == expected
    assert [(p.key, p.value, p.step) for p in expected] == [("a", 3.0, 2)]
    s.close()
