"""A local web service that loads a pickled scikit-learn model, answers scoring requests, then is deleted."""
from __future__ import annotations

import json
import os
import pickle
import socket
from pathlib import Path

import pytest

from azuremlcore import Model, Webservice
from azuremlcore.exceptions import WebserviceException
from azuremlcore.model import InferenceConfig
from azuremlcore.webservice import LocalWebservice

SCORE = '''
import json, os, pickle
import numpy as np
from azuremlcore.model import Model

def init():
    global model
    print("init model dir", os.environ["AZUREML_MODEL_DIR"])
    with open(Model.get_model_path("sk-model"), "rb") as f:
        model = pickle.load(f)

def run(raw_data):
    data = np.array(json.loads(raw_data)["data"])
    if data.ndim != 2:
        raise ValueError("data must be a list of rows")
    return model.predict(data).tolist()
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_free(port: int) -> bool:
    """Nothing listens and a new server could bind it (SO_REUSEADDR, as servers do, to skip TIME_WAIT)."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@pytest.mark.slow
def test_local_webservice_scores_a_sklearn_model(workspace, workdir: Path) -> None:
    from sklearn.linear_model import LinearRegression

    reg = LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])
    (workdir / "outputs").mkdir()
    with open(workdir / "outputs" / "model.pkl", "wb") as f:
        pickle.dump(reg, f)
    model = Model.register(workspace, "outputs/model.pkl", "sk-model")
    (workdir / "src").mkdir()
    (workdir / "src" / "score.py").write_text(SCORE)
    port = _free_port()
    service = Model.deploy(workspace, "svc", [model], InferenceConfig(entry_script="score.py", source_directory="src"),
                           LocalWebservice.deploy_configuration(port=port))
    try:
        service.wait_for_deployment(show_output=False)
        assert service.state == "Healthy" and service.scoring_uri == f"http://127.0.0.1:{port}/score"
        assert service.run(json.dumps({"data": [[3.0], [10.0]]})) == pytest.approx([7.0, 21.0])
        with pytest.raises(WebserviceException, match="data must be a list of rows"):
            service.run(json.dumps({"data": [1.0]}))
        assert "init model dir" in service.get_logs()
        assert [s.name for s in workspace.webservices.values()] == ["svc"]
        assert Webservice(workspace, "svc").scoring_uri == service.scoring_uri
        with pytest.raises(WebserviceException, match="used by web service"):
            model.delete()
        with pytest.raises(WebserviceException, match="already exists"):
            Model.deploy(workspace, "svc", [model], InferenceConfig("score.py", source_directory="src"))
        # reload picks up an edited entry script
        (workdir / "src" / "score.py").write_text(SCORE.replace(".tolist()", ".tolist() + ['v2']"))
        service.reload()
        assert service.run({"data": [[0.0]]})[-1] == "v2"
    finally:
        pid = service._spec["pid"]
        service.delete()
    assert _port_free(port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert Webservice.list(workspace) == []
    with pytest.raises(WebserviceException, match="WebserviceNotFound"):
        Webservice(workspace, "svc")


@pytest.mark.slow
def test_failing_init_is_reported_with_logs(workspace, workdir: Path) -> None:
    (workdir / "m.txt").write_text("m")
    model = Model.register(workspace, "m.txt", "m")
    (workdir / "bad.py").write_text("def init():\n    raise RuntimeError('cannot load weights')\n"
                                    "def run(raw):\n    return raw\n")
    with pytest.raises(WebserviceException, match="cannot load weights"):
        Model.deploy(workspace, "bad", [model], InferenceConfig("bad.py"), LocalWebservice.deploy_configuration())
    svc = Webservice(workspace, "bad")
    assert svc.state == "Failed"
    svc.delete()
