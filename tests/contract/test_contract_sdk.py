"""SDK behaviours that must be the same on every backend (embedded, server+SQLite, server+PostgreSQL)."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from azuremlcore.exceptions import UserErrorException


def test_workspace_found_again_by_coordinates(ws, backend):
    from azuremlcore import Workspace

    again = Workspace(ws.subscription_id, ws.resource_group, ws.name)
    assert again == ws and again.get_details()["workspaceid"] == ws._ws_id
    assert ws.name in Workspace.list(ws.subscription_id)
    ws.update(description="d", tags={"team": "a"})
    assert Workspace.get(ws.name, subscription_id=ws.subscription_id).tags == {"team": "a"}


def test_workspace_create_says_where_the_workspace_lives(backend, capsys, azuremlcore_home):
    import os
    import uuid

    from azuremlcore import Workspace

    name = f"said{uuid.uuid4().hex[:8]}"
    Workspace.create(name=name, subscription_id="sub-contract", resource_group="rg")
    said = capsys.readouterr().out
    # A server workspace's local folder is only a cache: the message names the server instead.
    where = os.environ["AZUREMLCORE_ENDPOINT"] if backend != "embedded" else str(azuremlcore_home)
    assert said.startswith(f"Created workspace '{name}' ") and where in said
    Workspace.create(name=name, subscription_id="sub-contract", resource_group="rg", exist_ok=True)
    assert capsys.readouterr().out == ""


def test_workspace_config_round_trip(ws, backend, workdir):
    from azuremlcore import Workspace

    ws.write_config()
    loaded = Workspace.from_config()
    assert loaded == ws
    assert (loaded._endpoint is None) == (backend == "embedded")


def test_config_naming_a_missing_workspace_says_how_to_create_it_there(backend, workdir, monkeypatch):
    import json
    import os

    from azuremlcore import Workspace
    from azuremlcore.exceptions import ProjectSystemException

    endpoint = os.environ.get("AZUREMLCORE_ENDPOINT")
    config = {"subscription_id": "sub-missing", "resource_group": "rg", "workspace_name": "later"}
    if endpoint:  # the config file alone names the server, as `aml folder attach --endpoint` writes it
        config["endpoint"] = endpoint
        monkeypatch.delenv("AZUREMLCORE_ENDPOINT")
    (workdir / "config.json").write_text(json.dumps(config))
    with pytest.raises(ProjectSystemException) as caught:
        Workspace.from_config()
    said = str(caught.value)
    assert "Workspace.create(name='later', subscription_id='sub-missing', resource_group='rg', exist_ok=True)" in said
    if endpoint:
        assert f"on the server {endpoint}" in said and f"AZUREMLCORE_ENDPOINT={endpoint}" in said
        assert f"aml workspace create -w later -g rg --subscription-id sub-missing --endpoint {endpoint}" in said
        monkeypatch.setenv("AZUREMLCORE_ENDPOINT", endpoint)  # what the message says to do
    else:
        assert "server" not in said
    Workspace.create(name="later", subscription_id="sub-missing", resource_group="rg", exist_ok=True,
                     show_output=False)
    monkeypatch.delenv("AZUREMLCORE_ENDPOINT", raising=False)
    loaded = Workspace.from_config()
    assert loaded.name == "later" and loaded._endpoint == endpoint


def test_logging_shapes(exp):
    run = exp.start_logging()
    run.log("rmse", 0.5)
    for a in (0.1, 0.2, 0.3):
        run.log("alpha", a)
    run.log("cat", "Red")
    run.log("flag", True)
    run.log("count", 3)
    run.log("bad", float("nan"))
    run.log("big", float("inf"))
    run.log_list("losses", [0.9, 0.5])
    run.log_row("roc", fpr=0.1, tpr=0.7)
    run.log_row("roc", fpr=0.2, tpr=0.8)
    run.log_table("tbl", {"a": [1, 2], "b": ["x", "y"]})
    m = run.get_metrics()
    assert m["rmse"] == 0.5 and m["alpha"] == [0.1, 0.2, 0.3]
    assert m["cat"] == "Red" and m["flag"] is True and m["count"] == 3 and isinstance(m["count"], int)
    assert math.isnan(m["bad"]) and m["big"] == math.inf
    assert m["losses"] == [0.9, 0.5] and m["roc"] == {"fpr": [0.1, 0.2], "tpr": [0.7, 0.8]}
    assert m["tbl"] == {"a": [1, 2], "b": ["x", "y"]}
    assert run.get_metrics(name="alpha") == {"alpha": [0.1, 0.2, 0.3]}


def test_many_points_one_run(exp):
    run = exp.start_logging()
    for i in range(25_000):
        run.log("loss", float(i))
    run.flush()
    values = run.get_metrics(name="loss")["loss"]
    assert len(values) == 25_000 and values[:3] == [0.0, 1.0, 2.0] and values[-1] == 24_999.0


def test_tags_and_write_once_properties(exp):
    run = exp.start_logging(tags={"t0": "x"})
    run.tag("a", "1")
    run.tag("b")
    run.set_tags({"c": "3", "a": "2"})
    run.remove_tags(["c"])
    assert run.get_tags() == {"t0": "x", "a": "2", "b": ""}
    run.add_properties({"author": "me"})
    run.add_properties({"author": "me"})
    with pytest.raises(UserErrorException):
        run.add_properties({"author": "you"})
    assert run.get_properties()["author"] == "me"


def test_status_lifecycle_and_details(exp):
    run = exp.start_logging(display_name="first")
    assert run.get_status() == "Running"
    run.complete()
    assert run.get_status() == "Completed"
    details = run.get_details()
    assert details["runId"] == run.id and details["status"] == "Completed"
    failed = exp.start_logging()
    failed.fail(error_details="boom")
    assert failed.get_status() == "Failed"


def test_files_upload_list_download(exp, tmp_path):
    src = tmp_path / "model.bin"
    src.write_bytes(b"\x00\x01" * 300_000)
    (tmp_path / "folder" / "sub").mkdir(parents=True)
    (tmp_path / "folder" / "a.txt").write_text("a")
    (tmp_path / "folder" / "sub" / "b.txt").write_text("b")
    run = exp.start_logging()
    run.upload_file("outputs/model.bin", str(src))
    run.upload_folder("data", str(tmp_path / "folder"))
    assert run.get_file_names() == ["data/a.txt", "data/sub/b.txt", "outputs/model.bin"]
    dest = tmp_path / "down" / "m.bin"
    run.download_file("outputs/model.bin", str(dest))
    assert dest.read_bytes() == src.read_bytes()
    run.download_files(prefix="data", output_directory=str(tmp_path / "all"))
    assert (tmp_path / "all" / "data" / "sub" / "b.txt").read_text() == "b"
    with pytest.raises(UserErrorException):
        run.download_file("missing.txt", str(tmp_path / "x"))


def test_children_and_get_runs_filters(exp):
    parent = exp.start_logging()
    kids = parent.create_children(count=3)
    kids[0].tag("best", "yes")
    for k in kids:
        k.complete()
    parent.add_properties({"kind": "sweep"})
    parent.complete()
    other = exp.start_logging()
    other.tag("best", "no")
    assert {c.id for c in parent.get_children()} == {k.id for k in kids}
    top = [r.id for r in exp.get_runs()]
    assert top == [other.id, parent.id]
    assert {r.id for r in exp.get_runs(include_children=True)} == {other.id, parent.id, *(k.id for k in kids)}
    assert [r.id for r in exp.get_runs(tags={"best": "no"})] == [other.id]
    assert [r.id for r in exp.get_runs(properties={"kind": "sweep"})] == [parent.id]
    assert [r.id for r in exp.get_runs() if r.get_status() == "Running"] == [other.id]
    assert kids[0].parent.id == parent.id


def test_run_reloaded_by_id(ws, exp):
    from azuremlcore import Run

    run = exp.start_logging()
    run.log("x", 1.0)
    run.flush()
    again = Run(exp, run.id)
    assert again.id == run.id and again.get_metrics() == {"x": 1.0}
    assert ws.get_run(run.id).id == run.id


def test_experiment_list_archive_delete(ws):
    from azuremlcore import Experiment

    a, b = Experiment(ws, "a-exp"), Experiment(ws, "b-exp")
    run = a.start_logging()
    run.complete()
    assert {"a-exp", "b-exp"} <= set(ws.experiments)
    b.archive()
    assert "b-exp" not in ws.experiments
    assert [e.name for e in Experiment.list(ws, view_type="ArchivedOnly")] == ["b-exp"]
    b.reactivate()
    a.set_tags({"k": "v"})
    a.refresh()
    assert a.tags == {"k": "v"}
    Experiment.delete(ws, a.id)
    assert "a-exp" not in ws.experiments


def test_secrets(ws, exp):
    kv = ws.get_default_keyvault()
    kv.set_secret("db-password", "s3cr3t")
    kv.set_secrets({"k1": "v1", "k2": "v2"})
    assert kv.get_secret("db-password") == "s3cr3t"
    assert {s["name"] for s in kv.list_secrets()} == {"db-password", "k1", "k2"}
    run = exp.start_logging()
    assert run.get_secret("k1") == "v1"
    kv.delete_secret("k1")
    with pytest.raises(UserErrorException):
        kv.get_secret("k1")


def test_versioned_assets_and_connections(ws):
    v1 = ws._store.put_asset(ws._ws_id, "model", "clf", {"path": "a"}, description="first", tags={"t": "1"})
    v2 = ws._store.put_asset(ws._ws_id, "model", "clf", {"path": "b"})
    assert (v1.version, v2.version) == (1, 2)
    assert ws._store.get_asset(ws._ws_id, "model", "clf").spec == {"path": "b"}
    assert ws._store.get_asset(ws._ws_id, "model", "clf", 1).tags == {"t": "1"}
    assert ws._store.get_asset(ws._ws_id, "model", "nope") is None
    ws._store.update_asset(ws._ws_id, "model", "clf", 1, description="changed")
    assert ws._store.get_asset(ws._ws_id, "model", "clf", 1).description == "changed"
    ws._store.delete_asset(ws._ws_id, "model", "clf", 2)
    assert [a.version for a in ws._store.list_assets(ws._ws_id, "model")] == [1]
    ws.set_connection("gh", "Git", "https://example", "PAT", "x")
    assert ws.get_connection("gh")["target"] == "https://example"


def test_snapshot_round_trip(exp, tmp_path):
    src = tmp_path / "proj"
    src.mkdir()
    (src / "train.py").write_text("print('hi')\n")
    run = exp.start_logging(snapshot_directory=str(src))
    assert run.get_snapshot_id()
    import zipfile

    out = Path(run.restore_snapshot(path=str(tmp_path / "restored")))
    with zipfile.ZipFile(out) as zf:
        assert zf.read("train.py") == b"print('hi')\n"


def test_bad_names_rejected_and_nothing_stored(ws):
    from azuremlcore import Experiment

    with pytest.raises(UserErrorException):
        Experiment(ws, "bad name/with slash")
    assert "bad name/with slash" not in ws.experiments
    with pytest.raises(UserErrorException):
        ws.get_default_keyvault().set_secret("bad name", "v")
    assert ws.get_default_keyvault().list_secrets() == []
