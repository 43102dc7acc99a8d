"""Compute targets on an embedded workspace: find-or-create, list, delete, provisioning settings."""
from __future__ import annotations

import json

import pytest

from azuremlcore.compute import AmlCompute, ComputeInstance, ComputeTarget
from azuremlcore.compute_target import ComputeTargetException
from azuremlcore.exceptions import ComputeTargetException as CoreComputeTargetException


def _find_or_create(ws, name: str = "cpu-cluster", max_nodes: int = 4):  # type: ignore[no-untyped-def]
    try:
        target = ComputeTarget(workspace=ws, name=name)
        created = False
    except ComputeTargetException:
        cfg = AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=max_nodes)
        target = ComputeTarget.create(ws, name, cfg)
        target.wait_for_completion(show_output=True, min_node_count=None, timeout_in_minutes=20)
        created = True
    return target, created


def test_compute_target_exception_is_the_core_one() -> None:
    assert ComputeTargetException is CoreComputeTargetException


def test_find_or_create_idiom(workspace, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    first, created = _find_or_create(workspace)
    assert created and isinstance(first, AmlCompute)
    assert "Succeeded" in capsys.readouterr().out
    second, created_again = _find_or_create(workspace)
    assert not created_again
    assert type(second) is AmlCompute and second.name == "cpu-cluster" and second.max_nodes == 4
    assert second == first
    assert AmlCompute(workspace, "cpu-cluster").vm_size == "STANDARD_D2_V2"
    assert workspace.compute_targets["cpu-cluster"].provisioning_state == "Succeeded"


def test_missing_target_raises_with_name(workspace) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ComputeTargetException, match="nope.*not found"):
        ComputeTarget(workspace=workspace, name="nope")


def test_create_existing_name_and_bad_input(workspace) -> None:  # type: ignore[no-untyped-def]
    _find_or_create(workspace, "c1")
    with pytest.raises(ComputeTargetException, match="already exists"):
        ComputeTarget.create(workspace, "c1", AmlCompute.provisioning_configuration(max_nodes=1))
    with pytest.raises(ComputeTargetException, match="min_nodes"):
        AmlCompute.provisioning_configuration(min_nodes=3, max_nodes=2)
    with pytest.raises(ComputeTargetException, match="vm_priority"):
        AmlCompute.provisioning_configuration(vm_priority="spot")
    with pytest.raises(ComputeTargetException, match="Invalid compute name"):
        ComputeTarget.create(workspace, "1bad name", AmlCompute.provisioning_configuration())
    with pytest.raises(ComputeTargetException, match="reserved"):
        ComputeTarget.create(workspace, "local", AmlCompute.provisioning_configuration())
    with pytest.raises(ComputeTargetException, match="provisioning configuration"):
        ComputeTarget.create(workspace, "c2", {"max_nodes": 2})
    assert [t.name for t in ComputeTarget.list(workspace)] == ["c1"]


def test_provisioning_configuration_accepts_every_parameter(workspace) -> None:  # type: ignore[no-untyped-def]
    cfg = AmlCompute.provisioning_configuration(
        vm_size="STANDARD_NC6", vm_priority="lowpriority", min_nodes=1, max_nodes=3,
        idle_seconds_before_scaledown=600, admin_username="me", admin_user_password="pw",
        admin_user_ssh_key="ssh-rsa AAA", vnet_resourcegroup_name="rg", vnet_name="vn", subnet_name="sn",
        tags={"team": "a"}, description="gpu", remote_login_port_public_access="Disabled",
        identity_type="SystemAssigned", identity_id=None, location="westeurope", enable_node_public_ip=False)
    target = ComputeTarget.create(workspace, "gpu-cluster", cfg)
    again = ComputeTarget(workspace=workspace, name="gpu-cluster")
    assert (again.vm_size, again.vm_priority, again.min_nodes, again.max_nodes) == ("STANDARD_NC6", "lowpriority", 1, 3)
    assert again.tags == {"team": "a"} and again.description == "gpu"
    assert again.scale_settings["nodeIdleTimeBeforeScaleDown"] == "PT600S"
    status = target.get_status()
    assert status.current_node_count == 1 and status.node_state_counts["runningNodeCount"] == 0
    assert json.loads(json.dumps(status.serialize()))["scaleSettings"]["maxNodeCount"] == 3
    defaults = AmlCompute.provisioning_configuration()
    assert defaults.max_nodes == 4 and defaults.min_nodes == 0 and defaults.vm_size


def test_list_update_serialize_delete(workspace, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    a, _ = _find_or_create(workspace, "aa", max_nodes=2)
    inst = ComputeTarget.create(workspace, "bb", ComputeInstance.provisioning_configuration(vm_size="STANDARD_DS3_V2"))
    listed = ComputeTarget.list(workspace)
    assert isinstance(listed, list) and [(t.name, type(t)) for t in listed] == [("aa", AmlCompute),
                                                                               ("bb", ComputeInstance)]
    a.update(max_nodes=5)
    assert ComputeTarget(workspace=workspace, name="aa").max_nodes == 5
    a.refresh_state()
    assert a.max_nodes == 5
    clone = ComputeTarget.deserialize(workspace, json.loads(json.dumps(a.serialize())))
    assert type(clone) is AmlCompute and clone.max_nodes == 5 and clone.name == "aa"
    with pytest.raises(ComputeTargetException, match="delete"):
        a.detach()
    a.delete()
    a.wait_for_completion(show_output=True, is_delete_operation=True)
    assert "Deleting" in capsys.readouterr().out
    assert [t.name for t in ComputeTarget.list(workspace)] == ["bb"]
    with pytest.raises(ComputeTargetException):
        ComputeTarget(workspace=workspace, name="aa")
    with pytest.raises(ComputeTargetException, match="not a AmlCompute"):
        AmlCompute(workspace, "bb")
    assert inst.get_status() == "Succeeded"


def test_submit_to_missing_target_creates_no_run(workspace, experiment, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import ScriptRunConfig

    src = tmp_path / "src"
    src.mkdir()
    (src / "hello.py").write_text("print('hi')\n")
    config = ScriptRunConfig(source_directory=str(src), script="hello.py", compute_target="no-such-cluster")
    with pytest.raises(ComputeTargetException, match="no-such-cluster"):
        experiment.submit(config)
    assert list(experiment.get_runs()) == []
