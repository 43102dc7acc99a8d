"""MLflow's model registry over workspace models: both views see the same versions and files."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

mlflow = pytest.importorskip("mlflow")

from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

from azuremlcore import Experiment, Workspace  # noqa: E402
from azuremlcore.model import Model  # noqa: E402
from conftest_server import live_server  # noqa: E402,F401 - fixture


def _sdk_run_with_model_folder(ws: Workspace, tmp_path: Path) -> str:
    """An SDK run whose files hold a (fake) MLflow model under model/."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    (folder / "weights.bin").write_bytes(b"\x00\x01")
    run = Experiment(ws, "exp").start_logging()
    run.upload_folder("model", str(folder))
    run.complete()
    return run.id


def test_register_runs_uri_of_run_files_is_a_workspace_model(mlflow_ws: Workspace, tmp_path: Path) -> None:
    run_id = _sdk_run_with_model_folder(mlflow_ws, tmp_path)
    mv = mlflow.register_model(f"runs:/{run_id}/model", "sklearn_mnist_model")
    assert (mv.name, mv.version, mv.run_id) == ("sklearn_mnist_model", "1", run_id)

    assert mv.source == f"runs:/{run_id}/model"
    model = Model(mlflow_ws, "sklearn_mnist_model")
    assert model.version == 1 and model.run_id == run_id and model.experiment_name == "exp"
    assert [m.id for m in Model.list(mlflow_ws)] == ["sklearn_mnist_model:1"]
    out = Path(model.download(str(tmp_path / "dl")))
    assert (out / "MLmodel").read_text() == "flavors: {}\n" and (out / "weights.bin").read_bytes() == b"\x00\x01"
    # models:/ downloads go through the registry's download URI to the version's own copy
    got = Path(mlflow.artifacts.download_artifacts("models:/sklearn_mnist_model/1", dst_path=str(tmp_path / "d2")))
    # the client's own runs:/ source, and a single run file
    client = MlflowClient()
    v2 = client.create_model_version("sklearn_mnist_model", f"runs:/{run_id}/model", run_id=run_id)
    v3 = client.create_model_version("sklearn_mnist_model", f"runs:/{run_id}/model/weights.bin")
    assert (v2.version, v3.version, v3.run_id) == ("2", "3", run_id)
    assert Model(mlflow_ws, "sklearn_mnist_model", version=2)._files() == model._files()
    assert Model(mlflow_ws, "sklearn_mnist_model")._files() == ["weights.bin"]
    assert (got / "MLmodel").read_text() == "flavors: {}\n" and (got / "weights.bin").read_bytes() == b"\x00\x01"


def test_versions_tags_descriptions_and_search_in_both_views(mlflow_ws: Workspace, tmp_path: Path) -> None:
    client = MlflowClient()
    client.create_registered_model("reg", tags={"team": "a"}, description="first")
    with pytest.raises(MlflowException) as exc:
        client.create_registered_model("reg")
    assert exc.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert client.get_registered_model("reg").latest_versions == []

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("one")
    v1 = client.create_model_version("reg", str(src), tags={"k": "v"}, description="d1")
    Model.register(mlflow_ws, model_path=str(src), model_name="reg", tags={"sdk": "yes"})
    assert v1.version == "1"
    assert [v.version for v in client.search_model_versions("name='reg'", order_by=["version_number ASC"])] == \
        ["1", "2"]
    assert Model(mlflow_ws, "reg").version == 2 and Model(mlflow_ws, "reg", version=1).tags == {"k": "v"}
    assert Model(mlflow_ws, "reg", version=1).description == "d1"

    client.set_model_version_tag("reg", "2", "stage", "dev")
    client.delete_model_version_tag("reg", "1", "k")
    client.update_model_version("reg", "2", description="changed")
    assert Model(mlflow_ws, "reg").tags == {"sdk": "yes", "stage": "dev"}
    assert Model(mlflow_ws, "reg").description == "changed"
    assert Model(mlflow_ws, "reg", version=1).tags == {}

    client.set_registered_model_tag("reg", "owner", "me")
    client.delete_registered_model_tag("reg", "team")
    client.update_registered_model("reg", description="second")
    rm = client.get_registered_model("reg")
    assert rm.tags == {"owner": "me"} and rm.description == "second"
    assert [v.version for v in rm.latest_versions] == ["2"]
    assert [v.version for v in client.get_latest_versions("reg")] == ["2"]

    client.transition_model_version_stage("reg", "1", "production")
    assert {(v.version, v.current_stage) for v in client.get_latest_versions("reg")} == \
        {("1", "Production"), ("2", "None")}
    assert [v.version for v in client.get_latest_versions("reg", stages=["Production"])] == ["1"]

    Model.register(mlflow_ws, model_path=str(src / "a.txt"), model_name="other")
    assert [m.name for m in client.search_registered_models(order_by=["name ASC"])] == ["other", "reg"]
    assert [m.name for m in client.search_registered_models("tags.owner = 'me'")] == ["reg"]
    assert [m.name for m in client.search_registered_models("name LIKE 'oth%'")] == ["other"]
    page = client.search_registered_models(max_results=1, order_by=["name ASC"])
    assert [m.name for m in page] == ["other"] and page.token
    assert [m.name for m in client.search_registered_models(max_results=1, order_by=["name ASC"],
                                                            page_token=page.token)] == ["reg"]
    # A single-file model: the download URI is its version folder, which holds the file.
    got = Path(mlflow.artifacts.download_artifacts("models:/other/1", dst_path=str(tmp_path / "dl")))
    assert (got / "a.txt").read_text() == "one"


def test_aliases_and_deletion(mlflow_ws: Workspace, tmp_path: Path) -> None:
    client = MlflowClient()
    src = tmp_path / "f.txt"
    src.write_text("x")
    Model.register(mlflow_ws, model_path=str(src), model_name="al")
    Model.register(mlflow_ws, model_path=str(src), model_name="al")
    client.set_registered_model_alias("al", "champion", "1")
    assert client.get_model_version_by_alias("al", "champion").version == "1"
    assert client.get_model_version("al", "1").aliases == ["champion"]
    assert client.get_registered_model("al").aliases == {"champion": "1"}
    assert Path(mlflow.artifacts.download_artifacts("models:/al@champion", dst_path=str(tmp_path / "a"))).is_dir()

    copied = client.copy_model_version("models:/al/2", "al_copy")
    assert copied.version == "1" and Model(mlflow_ws, "al_copy")._files() == Model(mlflow_ws, "al")._files()
    client.set_registered_model_alias("al_copy", "gone", "1")
    Model(mlflow_ws, "al_copy").delete()  # deleted through the SDK: the alias goes with the version
    assert client.get_registered_model("al_copy").aliases == {}
    client.delete_model_version("al", "1")
    assert [m.version for m in Model.list(mlflow_ws, name="al")] == [2]
    assert client.get_registered_model("al").aliases == {}
    with pytest.raises(MlflowException) as exc:
        client.get_model_version("al", "1")
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    client.delete_registered_model("al")
    assert Model.list(mlflow_ws, name="al") == []
    for call in (lambda: client.get_registered_model("al"), lambda: client.get_latest_versions("al"),
                 lambda: client.create_model_version("al", str(src)),
                 lambda: client.get_model_version_download_uri("al", "2")):
        with pytest.raises(MlflowException) as exc:
            call()
        assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_bad_input_maps_to_mlflow_codes(mlflow_ws: Workspace, tmp_path: Path) -> None:
    client = MlflowClient()
    client.create_registered_model("ok")
    for call, code in ((lambda: client.create_model_version("ok", str(tmp_path / "missing")),
                        "RESOURCE_DOES_NOT_EXIST"),
                       (lambda: client.create_model_version("ok", "runs:/no-such-run/model"),
                        "RESOURCE_DOES_NOT_EXIST"),
                       (lambda: client.create_registered_model("bad name/with slash"), "INVALID_PARAMETER_VALUE"),
                       (lambda: client.rename_registered_model("ok", "new"), "INVALID_PARAMETER_VALUE")):
        with pytest.raises(MlflowException) as exc:
            call()
        assert exc.value.error_code == code
    assert Model.list(mlflow_ws) == [] and client.get_registered_model("ok").name == "ok"


@pytest.mark.slow
def test_sklearn_log_model_register_and_load(mlflow_ws: Workspace, tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]] * 5)
    y = np.array([0, 1, 0, 1] * 5)
    clf = LogisticRegression().fit(X, y)
    with mlflow.start_run() as active:
        info = mlflow.sklearn.log_model(clf, name="model")
    run_id = active.info.run_id

    mv = mlflow.register_model(f"runs:/{run_id}/model", "m")
    assert mv.version == "1" and mv.run_id == run_id and mv.model_id == info.model_id
    model = Model(mlflow_ws, "m")
    assert model.version == 1 and model.run_id == run_id
    assert [m.id for m in Model.list(mlflow_ws)] == ["m:1"]
    out = Path(model.download(str(tmp_path / "dl")))
    assert {"MLmodel", "requirements.txt"} <= {p.name for p in out.iterdir()}
    assert list(mlflow.pyfunc.load_model("models:/m/1").predict(X[:2])) == list(clf.predict(X[:2]))

    # registering while logging (registered_model_name) and from a logged model id both add versions
    with mlflow.start_run():
        mlflow.sklearn.log_model(clf, name="model", registered_model_name="m")
    mlflow.register_model(info.model_uri, "m")
    assert [m.version for m in Model.list(mlflow_ws, name="m")] == [3, 2, 1]
    assert [v.version for v in MlflowClient().get_latest_versions("m")] == ["3"]

    # an MLflow model folder registered with the SDK loads through models:/
    folder = tmp_path / "saved"
    mlflow.sklearn.save_model(clf, str(folder))
    Model.register(mlflow_ws, model_path=str(folder), model_name="m2")
    assert list(mlflow.pyfunc.load_model("models:/m2/1").predict(X[:2])) == list(clf.predict(X[:2]))
    assert list(mlflow.pyfunc.load_model("models:/m2/latest").predict(X[:1])) == list(clf.predict(X[:1]))


# ---------------------------------------------------------------------- the server's registry REST API
ARM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces"


@pytest.fixture
def server_uri(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The stock client's tracking (and registry) URI for workspace w1 of a live server."""
    import requests

    token = live_server.token()
    requests.put(f"{live_server.url}{ARM}/w1", json={}, headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uri = f"{live_server.url}{ARM}/w1"
    mlflow.set_tracking_uri(uri)
    yield uri
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def test_stock_client_registry_on_the_server(server_uri: str, live_server: Any, tmp_path: Path) -> None:
    client = MlflowClient()
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "w.bin").write_bytes(b"abc")
    with mlflow.start_run() as active:
        mlflow.log_artifacts(str(folder), "model")
    run_id = active.info.run_id

    client.create_registered_model("srv")
    mv = client.create_model_version("srv", f"runs:/{run_id}/model", run_id=run_id)
    assert (mv.version, mv.run_id, mv.source) == ("1", run_id, f"runs:/{run_id}/model")
    client.set_registered_model_tag("srv", "team", "x")
    client.set_model_version_tag("srv", "1", "k", "v")
    client.set_registered_model_alias("srv", "best", "1")
    assert client.get_registered_model("srv").tags == {"team": "x"}
    assert [m.name for m in client.search_registered_models("name = 'srv'")] == ["srv"]
    assert [v.version for v in client.search_model_versions(f"run_id = '{run_id}'")] == ["1"]
    assert client.get_model_version_by_alias("srv", "best").tags == {"k": "v"}
    assert client.get_model_version_download_uri("srv", "1").startswith("mlflow-artifacts:/models/srv/1/")

    got = Path(mlflow.artifacts.download_artifacts("models:/srv@best", dst_path=str(tmp_path / "dl")))
    assert (got / "MLmodel").read_text() == "flavors: {}\n" and (got / "sub" / "w.bin").read_bytes() == b"abc"

    # the server's SDK view: the same model, files in the workspace's model storage
    from azuremlcore.workspace import Workspace

    rec = live_server.state.store.find_workspace("s1", "rg", "w1")[0]
    ws = Workspace._from_record(live_server.state.store, live_server.state.artifacts, rec)
    model = Model(ws, "srv")
    assert model.version == 1 and model.run_id == run_id and model.tags == {"k": "v"}
    assert sorted(model._files()) == ["model/MLmodel", "model/sub/w.bin"]

    for call, code in ((lambda: client.get_registered_model("nope"), "RESOURCE_DOES_NOT_EXIST"),
                       (lambda: client.get_model_version("srv", "9"), "RESOURCE_DOES_NOT_EXIST"),
                       (lambda: client.create_model_version("srv", str(folder)), "INVALID_PARAMETER_VALUE"),
                       (lambda: client.create_model_version("srv", "mlflow-artifacts:/../../etc"),
                        "INVALID_PARAMETER_VALUE")):
        with pytest.raises(MlflowException) as exc:
            call()
        assert exc.value.error_code == code
    client.delete_registered_model("srv")
    assert Model.list(ws) == []


def test_stock_register_model_from_run_files_on_the_server(server_uri: str, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    with mlflow.start_run() as active:
        mlflow.log_artifacts(str(folder), "model")
    mv = mlflow.register_model(f"runs:/{active.info.run_id}/model", "srv2")
    assert (mv.version, mv.source) == ("1", f"runs:/{active.info.run_id}/model")


@pytest.mark.slow
def test_stock_client_registers_and_loads_a_logged_sklearn_model_on_the_server(server_uri: str) -> None:
    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LinearRegression

    X = np.array([[0.0], [1.0], [2.0]])
    clf = LinearRegression().fit(X, np.array([0.0, 2.0, 4.0]))
    with mlflow.start_run() as active:
        info = mlflow.sklearn.log_model(clf, name="model")
    mv = mlflow.register_model(f"runs:/{active.info.run_id}/model", "lin")
    assert (mv.version, mv.run_id) == ("1", active.info.run_id)  # MLflow's REST messages carry no model_id
    assert mlflow.pyfunc.load_model("models:/lin/1").predict(np.array([[3.0]]))[0] == pytest.approx(6.0)
    assert mlflow.register_model(info.model_uri, "lin").version == "2"


def test_azureml_uri_of_a_server_uses_its_registry(server_uri: str, live_server: Any, tmp_path: Path) -> None:
    from azuremlmlflow import _uri
    from azuremlmlflow.plugins import AzureMLModelRegistryStore

    with mlflow.start_run() as active:
        mlflow.log_text("flavors: {}\n", "model/MLmodel")
    uri = _uri.build("s1", "rg", "w1", endpoint=live_server.url)  # the token comes from MLFLOW_TRACKING_TOKEN
    registry = AzureMLModelRegistryStore(uri)
    registry.create_registered_model("viauri")
    mv = registry.create_model_version("viauri", f"runs:/{active.info.run_id}/model", run_id=active.info.run_id)
    assert mv.version == "1"
    assert [m.name for m in MlflowClient().search_registered_models()] == ["viauri"]
