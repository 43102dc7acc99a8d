"""What run.log* accept (Azure ML v1's types and conversions) and refuse (never a silent store of a useless value)."""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable

import pytest

from azuremlcore.exceptions import MetricValueError

np = pytest.importorskip("numpy")


def test_conversions_as_azure_ml_does(experiment) -> None:  # type: ignore[no-untyped-def]
    run = experiment.start_logging()
    for v in (True, 3, 0.5, "text", np.bool_(False), np.int64(4), np.float32(0.25), np.str_("s"), np.array(2.5),
              np.array([7]), Fraction(1, 4), 2 ** 70):
        run.log("v", v)
    run.log("step", 1, step=np.int64(5))
    m = run.get_metrics()
    assert m["v"] == [True, 3, 0.5, "text", False, 4, 0.25, "s", 2.5, 7, 0.25, 2 ** 70]
    assert [type(x) for x in m["v"][4:8]] == [bool, int, float, str]
    assert run._store.get_metrics([run.id], "step")[0].step == 5


def test_nan_and_infinity_are_numbers_in_every_shape(experiment) -> None:  # type: ignore[no-untyped-def]
    run = experiment.start_logging()
    run.log_list("l", [math.nan, math.inf])
    run.log_row("r", x=-math.inf)
    run.log_table("t", {"x": [np.float64("nan")]})
    m = run.get_metrics()
    assert math.isnan(m["l"][0]) and m["l"][1] == math.inf
    assert m["r"] == {"x": -math.inf} and math.isnan(m["t"]["x"])


def test_none_is_a_missing_cell_not_a_value(experiment) -> None:  # type: ignore[no-untyped-def]
    run = experiment.start_logging()
    run.log_list("acc", [0.5, None, 0.7])
    run.log_row("roc", fpr=None, tpr=0.7)
    run.log_table("t", {"a": [1, None], "b": ["x", "y"]})
    with pytest.raises(MetricValueError, match="Cannot log None as metric 'x'"):
        run.log("x", None)
    m = run.get_metrics()
    assert m == {"acc": [0.5, None, 0.7], "roc": {"fpr": None, "tpr": 0.7}, "t": {"a": [1, None], "b": ["x", "y"]}}


def test_none_in_a_list_is_not_an_mlflow_metric(mlflow_ws) -> None:  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    from azuremlcore import Experiment

    run = Experiment(mlflow_ws, "none").start_logging()
    run.log_list("acc", [0.5, None, 0.7])
    history = MlflowClient().get_metric_history(run.id, "acc")
    assert [p.value for p in history] == [0.5, 0.7]


def _gen() -> Any:
    yield 1


BAD: list[tuple[str, Callable[[Any], None], str]] = [
    ("log None", lambda r: r.log("x", None), "Cannot log None as metric 'x'"),
    ("log list", lambda r: r.log("x", [1, 2]), "several values; use log_list"),
    ("log tuple", lambda r: r.log("x", (1, 2)), "several values; use log_list"),
    ("log range", lambda r: r.log("x", range(3)), "several values; use log_list"),
    ("log generator", lambda r: r.log("x", _gen()), "several values; use log_list"),
    ("log array", lambda r: r.log("x", np.arange(3)), "ndarray as metric 'x': it holds several values"),
    ("log dict", lambda r: r.log("x", {"a": 1}), "log_table"),
    ("log bytes", lambda r: r.log("x", b"ab"), "Cannot log bytes as metric 'x'"),
    ("log object", lambda r: r.log("x", object()), "Cannot log object as metric 'x'"),
    ("float step", lambda r: r.log("x", 1, step=1.5), "step of metric 'x' must be an integer"),
    ("bool step", lambda r: r.log("x", 1, step=True), "step of metric 'x' must be an integer"),
    ("text step", lambda r: r.log("x", 1, step="1"), "step of metric 'x' must be an integer"),
    ("log_list text", lambda r: r.log_list("x", "abc"), "needs a list of values, got str"),
    ("log_list number", lambda r: r.log_list("x", 3), "needs a list of values, got int"),
    ("log_list dict", lambda r: r.log_list("x", {"a": 1}), "needs a list of values, got dict"),
    ("log_list nested", lambda r: r.log_list("x", [1, [2]]), "element 1 of list metric 'x'"),
    ("log_list object", lambda r: r.log_list("x", [1, object()]), "element 1 of list metric 'x'"),
    ("log_row list", lambda r: r.log_row("x", a=[1, 2]), "column 'a' of row metric 'x'.*log_table"),
    ("log_row object", lambda r: r.log_row("x", a=1, b=object()), "column 'b' of row metric 'x'"),
    ("log_row empty", lambda r: r.log_row("x"), "at least one column"),
    ("log_table list", lambda r: r.log_table("x", [1, 2]), "needs a non-empty dict.*got list"),
    ("log_table empty", lambda r: r.log_table("x", {}), "needs a non-empty dict.*empty dict"),
    ("log_table lengths", lambda r: r.log_table("x", {"a": [1, 2], "b": [1]}), "different lengths"),
    ("log_table object", lambda r: r.log_table("x", {"a": [1, object()]}), "row 1 of column 'a' of table metric"),
]


@pytest.mark.parametrize("call,message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_values_are_refused_and_nothing_is_stored(experiment, call, message) -> None:  # type: ignore[no-untyped-def]
    run = experiment.start_logging()
    with pytest.raises(MetricValueError, match=message):
        call(run)
    assert run.get_metrics() == {}


@pytest.mark.parametrize("call,message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_offline_runs_refuse_the_same_values(call, message, capsys) -> None:  # type: ignore[no-untyped-def]
    # A script that runs on a laptop must not start failing once submitted.
    from azuremlcore import Run

    run = Run.get_context()
    with pytest.raises(MetricValueError, match=message):
        call(run)
    assert run.get_metrics() == {}
