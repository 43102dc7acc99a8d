"""A plain-MLflow user script (no azuremlcore import): runs under MLflow 2.10+ and 3.x, Python 3.8+.

Usage: python plain_mlflow.py TRACKING_URI RESULT_JSON. Logs a run (param, metrics, tag, artifact,
dict, an sklearn model when scikit-learn is installed), searches, downloads, loads and registers,
then writes what it saw to RESULT_JSON for the test to compare with what azuremlcore stored.
"""
import json
import os
import sys
import tempfile

import mlflow
from mlflow.tracking import MlflowClient

uri, out_path = sys.argv[1], sys.argv[2]
major = int(mlflow.__version__.split(".")[0])
mlflow.set_tracking_uri(uri)
mlflow.set_experiment("matrix")
work = tempfile.mkdtemp()
result = {"mlflow": mlflow.__version__, "python": "%d.%d" % sys.version_info[:2]}
try:
    import numpy as np
    from sklearn.linear_model import LinearRegression
except ImportError:
    np = None

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
        # MLflow 3 names a model; MLflow 2 puts it under an artifact path of the run
        where = {"name": "model"} if major >= 3 else {"artifact_path": "model"}
        # pip_requirements given: no requirement inference (a subprocess that loads the model)
        result["model_uri"] = mlflow.sklearn.log_model(model, pip_requirements=["scikit-learn"], **where).model_uri
run_id = run.info.run_id
result["run_id"] = run_id
result["artifact_uri"] = run.info.artifact_uri

client = MlflowClient()
result["searched"] = [r.info.run_id for r in mlflow.search_runs(experiment_names=["matrix"], output_format="list")]
result["listed"] = sorted(f.path for f in client.list_artifacts(run_id))
folder = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="docs", dst_path=os.path.join(work, "dl"))
with open(os.path.join(folder, "note.txt")) as f:
    result["downloaded"] = f.read()

if np is not None:
    loaded = mlflow.sklearn.load_model("runs:/%s/model" % run_id)
    result["predicted_from_run"] = float(loaded.predict(np.array([[3.0]]))[0])
    version = mlflow.register_model("runs:/%s/model" % run_id, "matrix-model")
    result["registered"] = version.version
    loaded = mlflow.sklearn.load_model("models:/matrix-model/%s" % version.version)
    result["predicted_from_registry"] = float(loaded.predict(np.array([[3.0]]))[0])
else:
    result["registered"] = mlflow.register_model("runs:/%s/docs" % run_id, "matrix-docs").version

with open(out_path, "w") as f:
    json.dump(result, f)
print(json.dumps(result))
