"""Run: status, details, tags/properties, files, children, context, snapshots."""
from __future__ import annotations

import io
import zipfile

import pytest

from azuremlcore import Experiment, Run
from azuremlcore.exceptions import ActivityFailedException, RunEnvironmentException, UserErrorException


def test_statuses_and_details(experiment):
    run = experiment.start_logging()
    assert run.get_status() == "Running"
    d = run.get_details()
    assert d["runId"] == run.id and d["status"] == "Running" and "endTimeUtc" not in d
    assert d["target"] == "local" and d["startTimeUtc"].endswith("Z")
    for key in ("properties", "inputDatasets", "outputDatasets", "runDefinition", "logFiles", "submittedBy"):
        assert key in d
    run.complete()
    d = run.get_details()
    assert d["status"] == "Completed" and d["endTimeUtc"] >= d["startTimeUtc"]
    assert run.wait_for_completion() == run.get_details()


def test_fail_and_cancel(experiment):
    failed = experiment.start_logging()
    failed.fail(error_details="bad data", error_code="DataError")
    d = failed.get_details()
    assert d["status"] == "Failed" and d["error"]["error"]["message"] == "bad data"
    assert d["error"]["error"]["code"] == "DataError"
    with pytest.raises(ActivityFailedException, match="bad data"):
        failed.wait_for_completion()
    assert failed.wait_for_completion(raise_on_error=False)["status"] == "Failed"
    canceled = experiment.start_logging()
    canceled.cancel()
    assert canceled.get_status() == "Canceled"


def test_context_manager_completes_or_fails(experiment):
    with experiment.start_logging() as run:
        run.log("a", 1)
    assert run.get_status() == "Completed"
    with pytest.raises(ZeroDivisionError):
        with experiment.start_logging() as bad:
            1 / 0
    assert bad.get_status() == "Failed"
    assert "division by zero" in bad.get_details()["error"]["error"]["message"]


def test_tags_and_write_once_properties(experiment):
    run = experiment.start_logging()
    run.tag("k", "v")
    run.tag("k", "v2")
    run.tag("flag")
    run.set_tags({"a": 1})
    run.remove_tags(["a"])
    assert run.get_tags() == {"k": "v2", "flag": ""}
    run.add_properties({"author": "me"})
    run.add_properties({"author": "me"})  # the same value again is fine
    with pytest.raises(UserErrorException, match="write-once"):
        run.add_properties({"author": "you"})
    assert run.get_properties() == {"author": "me"} and run.properties == {"author": "me"}


def test_display_name_and_description(experiment):
    run = experiment.start_logging(display_name="first")
    assert run.display_name == "first"
    run.display_name = "renamed"
    run.description = "trying things"
    again = Run(experiment, run.id)
    assert again.display_name == "renamed" and again.description == "trying things"


def test_upload_list_download(experiment, workdir):
    run = experiment.start_logging()
    (workdir / "m.pkl").write_bytes(b"model")
    (workdir / "folder" / "sub").mkdir(parents=True)
    (workdir / "folder" / "a.txt").write_text("a")
    (workdir / "folder" / "sub" / "b.txt").write_text("b")
    run.upload_file(name="outputs/model.pkl", path_or_stream="m.pkl")
    run.upload_file("stream.bin", io.BytesIO(b"bytes"))
    run.upload_files(names=["x/1.txt", "x/2.txt"], paths=["folder/a.txt", "folder/sub/b.txt"])
    run.upload_folder("data", "folder")
    assert run.get_file_names() == ["data/a.txt", "data/sub/b.txt", "outputs/model.pkl", "stream.bin",
                                    "x/1.txt", "x/2.txt"]
    run.download_file(name="outputs/model.pkl")
    assert (workdir / "model.pkl").read_bytes() == b"model"
    run.download_file("stream.bin", "dl/renamed.bin")
    assert (workdir / "dl" / "renamed.bin").read_bytes() == b"bytes"
    run.download_files(prefix="data", output_directory="out")
    assert (workdir / "out" / "data" / "sub" / "b.txt").read_text() == "b"
    run.download_files(prefix="data/", output_directory="flat", append_prefix=False)
    assert (workdir / "flat" / "sub" / "b.txt").read_text() == "b"


def test_file_errors(experiment):
    run = experiment.start_logging()
    run.upload_file("kept.txt", __file__)
    with pytest.raises(UserErrorException, match="no such file"):
        run.upload_file("x", "does-not-exist.txt")
    with pytest.raises(UserErrorException, match="Invalid file name"):
        run.upload_file("../escape.txt", __file__)
    with pytest.raises(UserErrorException, match="kept.txt"):
        run.download_file("missing.txt")
    assert run.get_file_names() == ["kept.txt"]


def test_outputs_folder_uploaded_on_complete(experiment, workdir):
    run = experiment.start_logging()
    (workdir / "outputs").mkdir(exist_ok=True)  # start_logging() made it already
    (workdir / "outputs" / "model.pkl").write_bytes(b"m")
    run.complete()
    assert run.get_file_names() == ["outputs/model.pkl"]


def test_children(experiment):
    parent = experiment.start_logging()
    kids = parent.create_children(count=3)
    tagged = parent.create_children(tag_key="lr", tag_values=["0.1", "0.2"])
    assert [k.parent.id for k in kids] == [parent.id] * 3
    assert {k.id for k in parent.get_children()} == {k.id for k in kids + tagged}
    assert [k.get_tags()["lr"] for k in tagged] == ["0.1", "0.2"]
    assert [k.id for k in parent.get_children(tags={"lr": "0.2"})] == [tagged[1].id]
    kids[0].complete()
    assert [k.id for k in parent.get_children(status="Completed")] == [kids[0].id]
    grandchild = kids[1].child_run(name="gc")
    assert grandchild.id not in {k.id for k in parent.get_children()}
    assert grandchild.id in {k.id for k in parent.get_children(recursive=True)}
    assert [r.id for r in experiment.get_runs()] == [parent.id]
    with pytest.raises(UserErrorException):
        parent.create_children()


def test_get_context_offline(capsys):
    run = Run.get_context()
    run.log("alpha", 0.03)
    run.log_list("l", [1, 2])
    assert "Attempted to log scalar metric alpha:\n0.03" in capsys.readouterr().out
    assert run.id.startswith("OfflineRun_") and run.get_metrics() == {"alpha": 0.03, "l": [1, 2]}
    with pytest.raises(RunEnvironmentException, match="offline run"):
        run.experiment.workspace
    with pytest.raises(RunEnvironmentException):
        Run.get_context(allow_offline=False)
    run.complete()


def test_get_context_inside_a_run(experiment, monkeypatch):
    run = experiment.start_logging()
    ws = experiment.workspace
    monkeypatch.setenv("AZUREML_RUN_ID", run.id)
    monkeypatch.setenv("AZUREML_ARM_SUBSCRIPTION", ws.subscription_id)
    monkeypatch.setenv("AZUREML_ARM_RESOURCEGROUP", ws.resource_group)
    monkeypatch.setenv("AZUREML_ARM_WORKSPACE_NAME", ws.name)
    ctx = Run.get_context()
    assert ctx.id == run.id and ctx.experiment.name == "exp" and ctx.experiment.workspace.name == "ws1"
    ctx.log("from-script", 1.0)
    assert run.get_metrics() == {"from-script": 1.0}


def test_get_run_and_portal_url(workspace, experiment):
    run = experiment.start_logging()
    assert Run.get(workspace, run.id).id == run.id
    assert run.get_portal_url().endswith(f"/ui/workspaces/{workspace._ws_id}/runs/{run.id}") and run.number == 1
    with pytest.raises(UserErrorException, match="does not exist"):
        Run.get(workspace, "nope")


def test_snapshot_round_trip(experiment, workdir):
    src = workdir / "src"
    src.mkdir()
    (src / "train.py").write_text("print('hi')")
    (src / "big.dat").write_text("x" * 100)
    (src / ".amlignore").write_text("*.dat\n")
    run = experiment.start_logging(snapshot_directory=str(src))
    zpath = run.restore_snapshot(path="snapshots")
    assert sorted(zipfile.ZipFile(zpath).namelist()) == [".amlignore", "train.py"]


def test_type_provider(experiment):
    class Special(Run):
        pass

    Run.add_type_provider("azureml.interactive", lambda exp, run_id, **kw: Special(exp, run_id, **kw))
    try:
        run = experiment.start_logging()
        assert isinstance(next(experiment.get_runs()), Special) and run.type == "azureml.interactive"
    finally:
        Run._type_providers.clear()


def test_two_workspaces_are_isolated(workspace):
    from azuremlcore import Workspace

    other = Workspace.create(name="other", subscription_id="s2", resource_group="rg", show_output=False)
    r1 = Experiment(workspace, "same").start_logging()
    Experiment(other, "same").start_logging()
    assert [r.id for r in Experiment(workspace, "same").get_runs()] == [r1.id]


def test_logs_and_details_with_logs(experiment, workdir):
    run = experiment.start_logging()
    run.upload_file("user_logs/std_log.txt", io.BytesIO(b"hello from the log\n"))
    run.upload_file("outputs/x.txt", io.BytesIO(b"x"))
    assert list(run.get_details()["logFiles"]) == ["user_logs/std_log.txt"]
    assert run.get_details_with_logs()["logFiles"]["user_logs/std_log.txt"] == "hello from the log\n"
    paths = run.get_all_logs(destination="logs")
    assert [open(p).read() for p in paths] == ["hello from the log\n"]


def test_start_and_detailed_status(experiment):
    from azuremlcore.run import Run as R

    run = R._start(experiment, status="NotStarted")
    assert run.get_detailed_status()["status"] == "NotStarted" and "startTimeUtc" not in run.get_details()
    run.start()
    assert run.get_status() == "Running" and "startTimeUtc" in run.get_details()


def test_wait_for_completion_streams_the_log(experiment, capsys):
    import threading
    import time

    run = experiment.start_logging()

    def finish() -> None:
        time.sleep(0.3)
        run._artifacts.append(run._container, "user_logs/std_log.txt", b"epoch 1\n")
        time.sleep(0.3)
        run._artifacts.append(run._container, "user_logs/std_log.txt", b"epoch 2\n")
        run.complete()

    threading.Thread(target=finish).start()
    details = run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert "epoch 1\nepoch 2\n" in out and "Execution Summary" in out and details["status"] == "Completed"
