"""Workspace: create/get/list/delete, config files, details, secrets, Azure-only members."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from azuremlcore import Experiment, Workspace
from azuremlcore.exceptions import ProjectSystemException, UserErrorException, WorkspaceException


def test_create_write_config_from_config(workspace, workdir):
    workspace.write_config()
    cfg = json.loads((workdir / ".azureml" / "config.json").read_text())
    assert cfg["subscription_id"] == workspace.subscription_id
    assert cfg["resource_group"] == "rg" and cfg["workspace_name"] == "ws1"
    nested = workdir / "a" / "b"
    nested.mkdir(parents=True)
    ws = Workspace.from_config(path=str(nested))
    assert ws == workspace and ws.name == "ws1" and ws.location == "local"


def test_from_config_search_order_and_shapes(workspace, workdir, monkeypatch):
    # aml_config/ and the folder itself are searched too; Scope-only files work.
    (workdir / "aml_config").mkdir()
    (workdir / "aml_config" / "project.json").write_text(json.dumps({
        "Scope": f"/subscriptions/{workspace.subscription_id}/resourceGroups/rg/providers/"
                 "Microsoft.MachineLearningServices/workspaces/ws1"}))
    assert Workspace.from_config().name == "ws1"
    (workdir / "config.json").write_text(json.dumps({"subscription_id": workspace.subscription_id,
                                                     "resource_group": "rg", "workspace_name": "ws1"}))
    assert Workspace.from_config(path=str(workdir / "config.json")).name == "ws1"
    monkeypatch.chdir(workdir / "aml_config")
    assert Workspace.from_config().name == "ws1"


def test_from_config_errors_are_clear(workspace, workdir):
    with pytest.raises(UserErrorException, match="No workspace config file found"):
        Workspace.from_config(path=str(workdir))
    (workdir / "config.json").write_text("{not json")
    with pytest.raises(UserErrorException, match="not valid JSON"):
        Workspace.from_config()
    (workdir / "config.json").write_text(json.dumps({"subscription_id": "x"}))
    with pytest.raises(UserErrorException, match="resource_group"):
        Workspace.from_config()


def test_config_naming_a_missing_workspace(azuremlcore_home, workdir):
    (workdir / "config.json").write_text(json.dumps({"subscription_id": "s", "resource_group": "rg",
                                                     "workspace_name": "nope"}))
    with pytest.raises(ProjectSystemException, match="Workspace.create"):
        Workspace.from_config()


def test_create_exist_ok_and_duplicates(workspace):
    again = Workspace.create(name="ws1", subscription_id=workspace.subscription_id, resource_group="rg",
                             exist_ok=True, show_output=False)
    assert again._ws_id == workspace._ws_id
    with pytest.raises(UserErrorException, match="already exists"):
        Workspace.create(name="ws1", subscription_id=workspace.subscription_id, resource_group="rg",
                         show_output=False)


@pytest.mark.parametrize("name", ["", "a", "-bad", "has space", "x" * 40, None])
def test_bad_workspace_names(azuremlcore_home, name):
    with pytest.raises(UserErrorException, match="Invalid workspace name"):
        Workspace.create(name=name, subscription_id="s", resource_group="rg", show_output=False)


def test_get_list_delete(workspace):
    other = Workspace.create(name="ws2", subscription_id=workspace.subscription_id, resource_group="rg2",
                             show_output=False)
    assert Workspace.get("ws2") == other
    listed = Workspace.list(workspace.subscription_id)
    assert sorted(listed) == ["ws1", "ws2"] and listed["ws1"][0] == workspace
    assert list(Workspace.list(workspace.subscription_id, resource_group="rg2")) == ["ws2"]
    run = Experiment(other, "e").start_logging()
    run.upload_file("f.txt", __file__)
    run.complete()
    other.delete()
    assert "ws2" not in Workspace.list(workspace.subscription_id)
    with pytest.raises(ProjectSystemException):
        Workspace.get("ws2")
    assert not (workspace._artifacts.root / other._ws_id).exists()
    assert Workspace.get("ws1") == workspace  # the other workspace is untouched


def test_details_and_attributes(workspace):
    d = workspace.get_details()
    assert d["name"] == "ws1" and d["location"] == "local" and d["workspaceid"] == workspace._ws_id
    assert d["id"].endswith("/providers/Microsoft.MachineLearningServices/workspaces/ws1")
    workspace.update(description="team space", tags={"a": "1"})
    ws = Workspace.get("ws1")
    assert ws.get_details()["description"] == "team space" and ws.tags == {"a": "1"}
    assert ws.discovery_url.startswith("file://")


def test_experiments_property_and_get_run(workspace):
    run = Experiment(workspace, "e1").start_logging()
    Experiment(workspace, "e2")
    assert sorted(workspace.experiments) == ["e1", "e2"]
    assert workspace.get_run(run.id).id == run.id


def test_keyvault_secrets(workspace):
    kv = workspace.get_default_keyvault()
    kv.set_secret(name="db-password", value="s3cret")
    kv.set_secrets({"a": "1", "b": "2"})
    assert kv.get_secret(name="db-password") == "s3cret"
    assert kv.get_secrets(["a", "missing"]) == {"a": "1", "missing": None}
    assert [s["name"] for s in kv.list_secrets()] == ["a", "b", "db-password"]
    run = Experiment(workspace, "e").start_logging()
    assert run.get_secret(name="a") == "1"
    kv.delete_secret("a")
    with pytest.raises(UserErrorException, match="does not exist"):
        kv.get_secret("a")
    with pytest.raises(UserErrorException, match="Invalid secret name"):
        kv.set_secret("bad name!", "x")


def test_connections(workspace):
    workspace.set_connection("git", "PythonFeed", "https://example.invalid", "PAT", "tok")
    assert workspace.get_connection("git")["target"] == "https://example.invalid"
    assert [c["name"] for c in workspace.list_connections(category="PythonFeed")] == ["git"]
    workspace.delete_connection("git")
    with pytest.raises(UserErrorException):
        workspace.get_connection("git")


def test_azure_only_members_say_why(workspace):
    with pytest.raises(WorkspaceException, match="no storage account"):
        workspace.list_keys()
    with pytest.raises(WorkspaceException, match="private endpoints"):
        workspace.add_private_endpoint(None)
    assert workspace.private_endpoints == {} and workspace.linked_services == {}
    assert workspace.diagnose_workspace()["value"]["healthy"] is True


def test_reopen_after_process_exit(workspace, azuremlcore_home, workdir):
    code = (
        "from azuremlcore import Workspace, Experiment\n"
        "ws = Workspace.get('ws1')\n"
        "run = Experiment(ws, 'child-proc').start_logging()\n"
        "run.log('x', 1.5); run.log('x', 2.5); run.complete()\n"
        "print(run.id)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, "AZUREMLCORE_HOME": str(azuremlcore_home)})
    run_id = out.stdout.strip().splitlines()[-1]
    run = Workspace.get("ws1").get_run(run_id)
    assert run.get_metrics() == {"x": [1.5, 2.5]} and run.get_status() == "Completed"


def test_import_is_light():
    code = "import sys, azuremlcore; print('sqlalchemy' in sys.modules, 'pydantic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
