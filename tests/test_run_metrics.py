"""Run logging family and get_metrics shapes (the exact shapes Azure ML v1 notebooks rely on)."""
from __future__ import annotations

import math

import pytest

from azuremlcore.exceptions import MetricValueError


def test_scalar_once_and_repeated(experiment):
    run = experiment.start_logging()
    run.log("rmse", 0.5)
    for a in (0.1, 0.2, 0.3):
        run.log("alpha", a)
    run.log(name="Category", value="Red")
    run.log("flag", True)
    run.log("count", 3)
    m = run.get_metrics()
    assert m["rmse"] == 0.5 and m["alpha"] == [0.1, 0.2, 0.3]
    assert m["Category"] == "Red" and m["flag"] is True and m["count"] == 3 and isinstance(m["count"], int)
    assert run.get_metrics(name="alpha") == {"alpha": [0.1, 0.2, 0.3]}


def test_numpy_values(experiment):
    np = pytest.importorskip("numpy")
    run = experiment.start_logging()
    run.log("acc", np.float64(0.9))
    run.log("n", np.int64(7))
    assert run.get_metrics() == {"acc": 0.9, "n": 7}


def test_list_row_table(experiment):
    run = experiment.start_logging()
    run.log_list("losses", [0.9, 0.5])
    run.log_list("single", [1.0])
    run.log_row("roc", fpr=0.1, tpr=0.7)
    run.log_row("roc", fpr=0.2, tpr=0.8)
    run.log_row("one", x=1, y=2)
    run.log_table("tbl", {"a": [1, 2, 3], "b": ["x", "y", "z"]})
    m = run.get_metrics()
    assert m["losses"] == [0.9, 0.5] and m["single"] == [1.0]
    assert m["roc"] == {"fpr": [0.1, 0.2], "tpr": [0.7, 0.8]}
    assert m["one"] == {"x": 1, "y": 2}
    assert m["tbl"] == {"a": [1, 2, 3], "b": ["x", "y", "z"]}


def test_documents(experiment):
    run = experiment.start_logging()
    cm = {"schema_type": "confusion_matrix", "schema_version": "1.0.0",
          "data": {"class_labels": ["0", "1"], "matrix": [[3, 1], [0, 4]]}}
    run.log_confusion_matrix("cm", cm)
    run.log_accuracy_table("acc", '{"schema_type": "accuracy_table", "data": {"probability_tables": []}}')
    run.log_residuals("res", {"schema_type": "residuals", "data": {"bin_edges": [0, 1], "bin_counts": [2]}})
    run.log_predictions("pred", {"schema_type": "predictions", "data": {"bin_averages": [0.5]}})
    m = run.get_metrics()
    assert m["cm"]["data"]["matrix"] == [[3, 1], [0, 4]]
    assert m["acc"]["schema_type"] == "accuracy_table"
    assert m["res"]["data"]["bin_counts"] == [2] and m["pred"]["data"]["bin_averages"] == [0.5]


def test_log_image_from_path_and_plot(experiment, workdir):
    run = experiment.start_logging()
    (workdir / "plot.png").write_bytes(b"\x89PNG fake")
    run.log_image("plot", path="plot.png")

    class Figure:  # anything with savefig, as matplotlib's pyplot and Figure have
        def savefig(self, path, format=None):
            with open(path, "wb") as f:
                f.write(b"\x89PNG from plot")

    run.log_image("curve", plot=Figure())
    assert {"plot.png", "curve.png"} <= set(run.get_file_names())
    m = run.get_metrics()
    assert m["plot"].startswith("aml://artifactId/") and m["plot"].endswith("/plot.png")
    populated = run.get_metrics(populate=True)
    assert open(populated["curve"], "rb").read() == b"\x89PNG from plot"


@pytest.mark.parametrize("name,value,message", [
    ("", 1, "non-empty"), (None, 1, "non-empty"), ("x" * 300, 1, "limit"),
    ("m", [1, 2], "log_list"), ("m", {"a": 1}, "log_table"), ("m", object(), "Cannot log"),
])
def test_bad_values_rejected(experiment, name, value, message):
    run = experiment.start_logging()
    run.log("kept", 1.0)
    with pytest.raises(MetricValueError, match=message):
        run.log(name, value)
    assert run.get_metrics() == {"kept": 1.0}


def test_bad_tables_rejected(experiment):
    run = experiment.start_logging()
    with pytest.raises(MetricValueError, match="different lengths"):
        run.log_table("t", {"a": [1, 2], "b": [1]})
    with pytest.raises(MetricValueError, match="at least one column"):
        run.log_row("r")
    with pytest.raises(MetricValueError, match="list of values"):
        run.log_list("l", 5)
    with pytest.raises(MetricValueError, match="exactly one of"):
        run.log_image("i")
    assert run.get_metrics() == {}


def test_nan_and_infinity_round_trip(experiment):
    run = experiment.start_logging()
    run.log("v", math.nan)
    run.log("v", math.inf)
    run.log("v", -math.inf)
    v = run.get_metrics()["v"]
    assert math.isnan(v[0]) and v[1] == math.inf and v[2] == -math.inf


def test_recursive_metrics_and_run_type(experiment):
    parent = experiment.start_logging()
    parent.log("p", 1)
    kids = parent.create_children(count=2)
    for i, k in enumerate(kids):
        k.log("mse", i)
        k.complete()
    grandchild = kids[0].child_run()
    grandchild.log("g", 5)
    m = parent.get_metrics(recursive=True)
    assert m[parent.id] == {"p": 1} and m[kids[1].id] == {"mse": 1} and m[grandchild.id] == {"g": 5}
    assert set(parent.get_metrics(recursive=True, run_type="other")) == {parent.id}


def test_steps_are_per_name_sequences(experiment):
    run = experiment.start_logging()
    for v in (1.0, 2.0, 3.0):
        run.log("a", v)
    run.log("b", 9.0, step=42)
    run.flush()
    points = run._store.get_metrics([run.id])
    assert [(p.key, p.step) for p in points] == [("a", 0), ("a", 1), ("a", 2), ("b", 42)]
