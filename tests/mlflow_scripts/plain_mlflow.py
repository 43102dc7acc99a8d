"""A plain-MLflow user script (no azuremlcore import): runs under MLflow 2.10+ and 3.x, Python 3.8+.

Usage: python plain_mlflow.py RESULT_JSON TRACKING_URI [TRACKING_URI ...]. For each tracking URI it
logs a run (param, metrics, tag, artifact, dict, an sklearn model when scikit-learn is installed),
searches, lists, downloads, loads (runs:/ and models:/) and registers, then writes what it saw to
RESULT_JSON for the test to compare with what azuremlcore stored.
"""
import json
import os
import sys
import tempfile

import mlflow
from mlflow.tracking import MlflowClient

try:
    import numpy as np
    from sklearn.linear_model import LinearRegression
except ImportError:
    np = None

MAJOR = int(mlflow.__version__.split(".")[0])


def scenario(uri, work):
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("matrix")
    seen = {}
    with mlflow.start_run(run_name="plain") as run:
        mlflow.log_param("alpha", 0.5)
        for i in range(3):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        mlflow.set_tag("kind", "matrix")
        note = os.path.join(work, "note.txt")
        with open(note, "w") as f:
            f.write("hello")
        mlflow.log_artifact(note, artifact_path="docs")
        mlflow.log_dict({"a": 1}, "cfg/d.json")
        if np is not None:
            model = LinearRegression().fit(np.array([[0.0], [1.0], [2.0]]), np.array([0.0, 2.0, 4.0]))
            # MLflow 3 names a model; MLflow 2 puts it under an artifact path of the run. pip_requirements
            # given: no requirement inference (a subprocess that loads the model).
            where = {"name": "model"} if MAJOR >= 3 else {"artifact_path": "model"}
            seen["model_uri"] = mlflow.sklearn.log_model(model, pip_requirements=["scikit-learn"], **where).model_uri
    run_id = run.info.run_id
    seen["run_id"] = run_id
    seen["artifact_uri"] = run.info.artifact_uri

    client = MlflowClient()
    seen["searched"] = [r.info.run_id for r in mlflow.search_runs(experiment_names=["matrix"], output_format="list")]
    seen["listed"] = sorted(f.path for f in client.list_artifacts(run_id))
    folder = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="docs",
                                                 dst_path=os.path.join(work, "dl"))
    with open(os.path.join(folder, "note.txt")) as f:
        seen["downloaded"] = f.read()
    if np is not None:
        loaded = mlflow.sklearn.load_model("runs:/%s/model" % run_id)
        seen["predicted_from_run"] = float(loaded.predict(np.array([[3.0]]))[0])
        version = mlflow.register_model("runs:/%s/model" % run_id, "matrix-model")
        seen["registered"] = version.version
        loaded = mlflow.sklearn.load_model("models:/matrix-model/%s" % version.version)
        seen["predicted_from_registry"] = float(loaded.predict(np.array([[3.0]]))[0])
    else:
        seen["registered"] = mlflow.register_model("runs:/%s/docs" % run_id, "matrix-docs").version
    return seen


def main():
    out_path, uris = sys.argv[1], sys.argv[2:]
    result = {"mlflow": mlflow.__version__, "python": "%d.%d" % sys.version_info[:2],
              "workspaces": [scenario(uri, tempfile.mkdtemp()) for uri in uris]}
    with open(out_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
