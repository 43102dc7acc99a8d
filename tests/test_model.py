"""Models: register -> list -> download -> get_model_path, versions, filters, register_model from a run."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from azuremlcore import Model
from azuremlcore.exceptions import ModelNotFoundException, UserErrorException, WebserviceException


def test_register_list_download_get_model_path(workspace, workdir: Path) -> None:
    (workdir / "model.pkl").write_bytes(b"v1")
    m1 = Model.register(workspace, model_path="model.pkl", model_name="sk-model", tags={"area": "x"},
                        description="first", model_framework=Model.Framework.SCIKITLEARN)
    (workdir / "model.pkl").write_bytes(b"v2")
    m2 = Model.register(workspace, "model.pkl", "sk-model", properties={"acc": 0.9})
    assert (m1.version, m2.version, m2.id, m1.description) == (1, 2, "sk-model:2", "first")
    assert m1.tags == {"area": "x"} and m2.properties == {"acc": "0.9"} and m1.model_framework == "ScikitLearn"
    assert Model(workspace, "sk-model").version == 2
    assert Model(workspace, "sk-model", version=1).tags == {"area": "x"}
    assert Model(workspace, id="sk-model:1").description == "first"
    assert [m.version for m in Model.list(workspace, name="sk-model")] == [2, 1]
    assert [m.id for m in Model.list(workspace, latest=True)] == ["sk-model:2"]
    assert [m.version for m in Model.list(workspace, tags=["area"])] == [1]
    assert [m.version for m in Model.list(workspace, tags=[["area", "x"]])] == [1]
    assert Model.list(workspace, tags=[["area", "y"]]) == []
    assert workspace.models["sk-model"].version == 2
    assert Path(Model(workspace, "sk-model", version=1).download(target_dir="m")).read_bytes() == b"v1"
    with pytest.raises(WebserviceException, match="exist_ok"):
        m1.download(target_dir="m")
    assert Path(m2.download(target_dir="m", exist_ok=True)).read_bytes() == b"v2"
    # get_model_path finds the workspace through the config file and downloads into ./azureml-models
    workspace.write_config()
    os.remove("model.pkl")
    path = Model.get_model_path("sk-model")
    assert path == "azureml-models/sk-model/2/model.pkl" and Path(path).read_bytes() == b"v2"
    assert Path(Model.get_model_path("sk-model", version=1, _workspace=workspace)).read_bytes() == b"v1"
    with pytest.raises(ModelNotFoundException):
        Model(workspace, "missing")
    with pytest.raises(WebserviceException):  # the real SDK's exception type for a missing model
        Model(workspace, "sk-model", version=9)


def test_folder_model_child_paths_and_delete(workspace, workdir: Path) -> None:
    folder = workdir / "export"
    (folder / "sub").mkdir(parents=True)
    (folder / "MLmodel").write_text("flavors: {}")
    (folder / "sub" / "w.bin").write_bytes(b"w")
    (folder / "skip.tmp").write_text("x")
    m = Model.register(workspace, str(folder), "folder-model")
    assert m._record.spec["files"] == ["export/MLmodel", "export/skip.tmp", "export/sub/w.bin"]
    only = Model.register(workspace, str(folder), "folder-model", child_paths=["MLmodel", "sub/w.bin"])
    out = Path(only.download(target_dir="dl"))
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == ["MLmodel", "sub/w.bin"]
    m.delete()
    assert [x.version for x in Model.list(workspace, name="folder-model")] == [2]
    with pytest.raises(UserErrorException, match="Invalid model name"):
        Model.register(workspace, str(folder), "bad name!")


def test_model_path_from_model_dir(workspace, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = workdir / "svc" / "azureml-models" / "m" / "3"
    one.mkdir(parents=True)
    (one / "model.pkl").write_bytes(b"x")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(one))
    assert Model.get_model_path("m") == str(one / "model.pkl")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(one.parent.parent))
    assert Model.get_model_path("m", version=3) == str(one / "model.pkl")


def test_register_model_from_run(experiment, workdir: Path) -> None:
    run = experiment.start_logging()
    (workdir / "outputs").mkdir(exist_ok=True)
    run.upload_file("outputs/model.pkl", _write(workdir / "tmp.pkl", b"weights"))
    run.upload_file("model/MLmodel", _write(workdir / "MLmodel", b"flavors: {}"))
    run.upload_file("model/model.pkl", _write(workdir / "m2.pkl", b"inner"))
    m = run.register_model(model_name="from-run", model_path="outputs/model.pkl", tags={"t": "1"})
    assert (m.run_id, m.version, m.experiment_name) == (run.id, 1, "exp")
    assert Path(m.download("a")).read_bytes() == b"weights"
    mf = run.register_model(model_name="from-run", model_path="model")
    out = Path(mf.download("b"))
    assert out.name == "model" and (out / "MLmodel").read_bytes() == b"flavors: {}"
    whole = run.register_model(model_name="outs", model_path="outputs/")
    assert whole._record.spec["files"] == ["outputs/model.pkl"]
    assert [x.id for x in Model.list(experiment.workspace, run_id=run.id, latest=True, name="from-run")] == ["from-run:2"]
    with pytest.raises(UserErrorException, match="no file or folder"):
        run.register_model(model_name="x", model_path="outputs/missing.pkl")
    run.complete()


def test_package_writes_dockerfile(workspace, workdir: Path) -> None:
    from azuremlcore.model import InferenceConfig

    (workdir / "model.pkl").write_bytes(b"m")
    (workdir / "src").mkdir()
    (workdir / "src" / "score.py").write_text("def init(): pass\ndef run(raw): return raw\n")
    m = Model.register(workspace, "model.pkl", "pkg-model")
    pkg = Model.package(workspace, [m], InferenceConfig("score.py", source_directory="src"), generate_dockerfile=True)
    pkg.wait_for_creation()
    pkg.save("ctx")
    docker = (workdir / "ctx" / "Dockerfile").read_text()
    assert "AZUREML_MODEL_DIR=/var/azureml-models/pkg-model/1" in docker and "score.py" in docker
    assert (workdir / "ctx" / "azureml-models" / "pkg-model" / "1" / "model.pkl").read_bytes() == b"m"
    assert (workdir / "ctx" / "src" / "score.py").is_file()
    with pytest.raises(WebserviceException, match="generate_dockerfile=True"):
        Model.package(workspace, [m], InferenceConfig("score.py", source_directory="src"))


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)
