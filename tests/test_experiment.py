"""Experiment: names, start_logging, get_runs filters and order, list/archive/reactivate/delete, tags."""
from __future__ import annotations

import pytest

from azuremlcore import Experiment, Run
from azuremlcore.exceptions import UserErrorException


@pytest.mark.parametrize("name", ["", "-x", "has space", "a/b", "x" * 256, 3])
def test_bad_names_rejected(workspace, name):
    with pytest.raises(UserErrorException, match="Invalid experiment name"):
        Experiment(workspace, name)
    assert workspace.experiments == {}


def test_same_name_same_experiment(workspace):
    a, b = Experiment(workspace, "my-exp_1"), Experiment(workspace, "my-exp_1")
    assert a.id == b.id and a == b and a.workspace == workspace


def test_get_runs_newest_first_with_filters(experiment):
    r1 = experiment.start_logging()
    r1.tag("team", "a")
    r1.add_properties({"author": "x"})
    r2 = experiment.start_logging()
    r2.tag("team", "b")
    r3 = experiment.start_logging()
    child = r3.child_run()
    assert [r.id for r in experiment.get_runs()] == [r3.id, r2.id, r1.id]
    assert child.id in [r.id for r in experiment.get_runs(include_children=True)]
    assert [r.id for r in experiment.get_runs(tags="team")] == [r2.id, r1.id]
    assert [r.id for r in experiment.get_runs(tags={"team": "a"})] == [r1.id]
    assert [r.id for r in experiment.get_runs(properties={"author": "x"}, tags={"team": "a"})] == [r1.id]
    assert [r.id for r in experiment.get_runs(type="no-such-type")] == []
    r2.complete()
    assert [r.id for r in Run.list(experiment, status="Completed")] == [r2.id]


def test_list_archive_reactivate(workspace):
    a, b = Experiment(workspace, "a"), Experiment(workspace, "b")
    b.tag("stage", "dev")
    assert [e.name for e in Experiment.list(workspace)] == ["a", "b"]
    assert [e.name for e in Experiment.list(workspace, tags="stage")] == ["b"]
    a.archive()
    assert a.archived_time is not None
    assert [e.name for e in Experiment.list(workspace)] == ["b"]
    assert [e.name for e in Experiment.list(workspace, view_type="ArchivedOnly")] == ["a"]
    assert [e.name for e in Experiment.list(workspace, view_type="All")] == ["a", "b"]
    with pytest.raises(UserErrorException, match="view_type"):
        Experiment.list(workspace, view_type="Everything")
    a.reactivate(new_name="a2")
    assert a.name == "a2" and a.archived_time is None
    assert Experiment.list(workspace, experiment_name="a2")[0].id == a.id


def test_reactivate_to_taken_name_fails_cleanly(workspace):
    a, _ = Experiment(workspace, "a"), Experiment(workspace, "b")
    a.archive()
    with pytest.raises(UserErrorException, match="already exists"):
        a.reactivate(new_name="b")
    a.refresh()
    assert a.name == "a" and a.archived_time is not None


def test_delete_removes_runs_and_files(workspace):
    exp = Experiment(workspace, "gone")
    run = exp.start_logging()
    run.log("m", 1)
    run.upload_file("x.txt", __file__)
    run.complete()
    keep = Experiment(workspace, "kept").start_logging()
    keep.log("m", 2)
    keep.complete()
    Experiment.delete(workspace, exp.id)
    assert "gone" not in workspace.experiments
    assert not run._artifacts.local_path(run._container, "x.txt").exists()
    assert keep.get_metrics() == {"m": 2}


def test_tags(experiment):
    experiment.tag("a")
    experiment.set_tags({"b": "2", "c": "3"})
    experiment.remove_tags(["c"])
    assert experiment.tags == {"a": "", "b": "2"}


def test_portal_url_is_the_studio_page(experiment):
    # No `aml studio` runs for this home: the page at the studio's default address (opens once it starts).
    assert experiment.get_portal_url() == (f"http://127.0.0.1:8765/ui/workspaces/{experiment.workspace._ws_id}"
                                           f"/experiments/{experiment.id}")
