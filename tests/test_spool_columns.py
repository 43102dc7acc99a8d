"""`run.log` into a server as columns: the spool's columnar records, the server's `batches`, and what
reads them back (replay into any store, a server from before `batches`)."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Optional

import pytest

from conftest_server import LiveServer

SUB, RG = "s1", "rg"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A live server; this process's endpoint and token point at it."""
    srv = LiveServer(tmp_path / "server")
    monkeypatch.setenv("AZUREMLCORE_ENDPOINT", srv.url)
    monkeypatch.setenv("AZUREMLCORE_TOKEN", srv.token("alice", "Contributor", f"/subscriptions/{SUB}"))
    yield srv
    srv.stop()


def _same(a: Any, b: Any) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def test_a_columnar_record_reads_back_as_the_points_written(tmp_path: Path) -> None:
    from azuremlcore._store.records import MetricPoint
    from azuremlcore._tracking.spool import Spool, find_spools, record_points, record_size

    spool = Spool(tmp_path / "run1", header={"run_id": "run1", "endpoint": "x"})
    loop = [("run1", "loss", "scalar", i / 4, None, i, 1000 + i) for i in range(5)]
    odd = [("run1", "loss", "scalar", math.nan, None, 5, 1005), ("run1", "acc", "scalar", math.inf, None, 0, 1006),
           ("run1", "acc", "scalar", -math.inf, None, 1, 1007), ("run1", "n", "scalar", 3.0, "3", 0, 1008),
           ("run1", "who", "scalar", None, '"me"', 0, 1009), ("run1", "roc", "row", None, '{"x": 1}', 0, 1010),
           ("run1", 'odd "step":[1,2], key', "scalar", 1.0, '["step", 3]', 7, 1011)]
    spool.append_metrics(loop)
    spool.append_metrics(odd)
    spool.append_metrics([])  # nothing logged in a batch: a record of no points
    spool.sync()
    lines = spool.path.read_bytes().splitlines()
    first = json.loads(lines[1])
    # One name and kind in a loop: written once, not per point; plain floats carry no value_json at all.
    assert (first["key"], first["kind"], first["value_json"]) == ("loss", "scalar", None)
    assert first["value"] == [0.0, 0.25, 0.5, 0.75, 1.0] and first["step"] == [0, 1, 2, 3, 4]
    second = json.loads(lines[2])
    assert second["value"][:3] == ["NaN", "Infinity", "-Infinity"] and second["kind"][-2] == "row"
    spool.close()

    again = find_spools(tmp_path)[0]  # read back from disk, as `aml sync` or another process would
    records = list(again.records())[1:]
    assert [record_size(rec) for rec in records] == [len(loop), len(odd), 0]  # counted without parsing the lines
    back = [p for rec in records for p in record_points("run1", rec)]
    expected = [MetricPoint(*row) for row in loop + odd]
    assert len(back) == len(expected)
    for got, want in zip(back, expected):
        assert all(_same(getattr(got, f), getattr(want, f)) for f in want.__dataclass_fields__), (got, want)


def test_what_a_loop_logs_through_the_spool_comes_back_as_logged(server) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Experiment, Workspace
    from azuremlcore._tracking.spool import spool_root

    ws = Workspace.create("columns", subscription_id=SUB, resource_group=RG, exist_ok=True, show_output=False)
    run = Experiment(ws, "exp").start_logging()
    for i in range(3000):  # two names interleaved, the second with explicit steps
        run.log("loss", 1.0 / (i + 1))
        if i % 3 == 0:
            run.log("acc", i, step=i)
    for v in (math.nan, math.inf, -math.inf, True, "text", 2 ** 70):
        run.log("odd", v)
    run.log_list("lst", [1, None, 2.5])
    run.log_row("roc", fpr=0.1, tpr=0.9)
    run.log_table("tbl", {"a": [1, 2], "b": ["x", "y"]})
    run.flush()
    assert list(spool_root().glob(f"{run.id}/*.spool"))  # it went through the spool

    metrics = run.get_metrics()
    assert metrics["loss"] == [1.0 / (i + 1) for i in range(3000)]
    assert metrics["acc"] == list(range(0, 3000, 3))
    odd = metrics["odd"]
    assert math.isnan(odd[0]) and odd[1:] == [math.inf, -math.inf, True, "text", 2 ** 70]
    assert metrics["lst"] == [1, None, 2.5] and metrics["roc"] == {"fpr": 0.1, "tpr": 0.9}
    assert metrics["tbl"] == {"a": [1, 2], "b": ["x", "y"]}
    steps = [p.step for p in run._store.get_metrics([run.id], "acc")]
    assert steps == list(range(0, 3000, 3))
    run.complete()


def _batch(n: int, values: list[Any], **over: Any) -> dict[str, Any]:
    return {"n": n, "t": "metrics", "key": "m", "kind": "scalar", "value": values,
            "value_json": None, "step": list(range(len(values))), "timestamp": [1] * len(values), **over}


def test_the_server_takes_a_batch_once_and_says_what_a_bad_one_lacks(server) -> None:  # type: ignore[no-untyped-def]
    import requests

    from azuremlcore import Experiment, Workspace

    ws = Workspace.create("batches", subscription_id=SUB, resource_group=RG, exist_ok=True, show_output=False)
    run = Experiment(ws, "exp").start_logging()
    url = f"{server.url}{run._store.ws_path(ws._ws_id)}/metrics"
    hdrs = {"Authorization": f"Bearer {os.environ['AZUREMLCORE_TOKEN']}"}
    body = {"run_id": run.id, "source": "abc", "batches": [_batch(0, [1.5, "NaN"]), _batch(1, [2.5], key=["k"])]}
    for _ in range(2):  # the answer to the first was lost: sent again, stored once
        assert requests.post(url, json=body, headers=hdrs, timeout=30).status_code == 204
    metrics = run.get_metrics()
    assert metrics["m"][0] == 1.5 and math.isnan(metrics["m"][1]) and metrics["k"] == 2.5
    one = _batch(2, [1.0, 2.0])
    for bad, says in (
            ({**body, "batches": [{**one, "step": [0]}]}, "'step' has 1 items"),
            ({**body, "batches": [{**one, "key": ["a", "b\x01"]}]}, "key"),
            ({**body, "batches": [{**one, "value": [1.0, "one"]}]}, "value"),
            ({**body, "batches": [{**one, "n": -1}]}, "n"),
            ({**body, "batches": [{**one, "kind": "x" * 30}]}, "kind"),
            ({**body, "batches": [{**one, "extra": 1}]}, "extra"),
            ({**body, "seq": 2}, "'n'"),
            ({**body, "source": None}, "'source'"),
            ({"source": "abc", "batches": [one]}, "'run_id'")):
        resp = requests.post(url, json=bad, headers=hdrs, timeout=30)
        assert resp.status_code == 400 and says in resp.json()["message"], (says, resp.text)
    assert len(run.get_metrics()["m"]) == 2  # nothing of the refused ones was stored
    run.complete()


def test_columnar_and_row_records_replay_into_an_embedded_store(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Experiment
    from azuremlcore._tracking.spool import Spool
    from azuremlcore._tracking.spool_replay import replay

    run = Experiment(workspace, "exp").start_logging()
    spool = Spool(tmp_path / run.id, header={"run_id": run.id, "endpoint": "x"})
    spool.append({"t": "metrics", "rows": [["m", "scalar", 0.0, None, 0, 1]]})  # as an earlier version wrote
    spool.append_metrics([(run.id, "m", "scalar", float(i), None, i, 1) for i in range(1, 4)])
    spool.append({"t": "attrs", "kind": "tag", "values": {"t": "v"}})
    spool.append_metrics([(run.id, "m", "scalar", math.inf, None, 4, 1)])
    spool.sync()
    out = replay(Spool(spool.folder, spool.source), run._store)
    assert (out.points, out.attributes, out.errors) == (5, 1, [])
    assert replay(Spool(spool.folder, spool.source), run._store).points == 0  # acknowledged: nothing again
    assert run.get_metrics()["m"] == [0.0, 1.0, 2.0, 3.0, math.inf] and run.get_tags()["t"] == "v"
    spool.close()
    run.complete()


def test_a_server_from_before_batches_gets_the_same_points_as_rows(server, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from typing import Union

    from pydantic import Field
    from typing_extensions import Annotated

    from azuremlcore import Experiment, Workspace
    from azuremlcore.server import models as m

    class MetricsBodyBeforeBatches(m._Body):  # the server's model before `batches`, as it was
        points: list[m.MetricRow] = []
        run_id: Optional[Annotated[str, Field(min_length=1, max_length=256)]] = None
        rows: Optional[list[m.RunMetricRow]] = None
        unique: bool = False
        source: Optional[Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]] = None
        seq: Optional[Union[Annotated[int, Field(ge=0)], list[Annotated[int, Field(ge=0)]]]] = None

        @property
        def batches(self) -> None:  # what this route reads of a body without them
            return None

    monkeypatch.setattr(m, "MetricsBody", MetricsBodyBeforeBatches)
    ws = Workspace.create("older", subscription_id=SUB, resource_group=RG, exist_ok=True, show_output=False)
    run = Experiment(ws, "exp").start_logging()
    for i in range(10):
        run.log("v", i * 0.5)
    run.log("v", math.nan)
    run.flush()
    assert run._store._rows_only  # refused once, then rows for this server
    values = run.get_metrics()["v"]
    assert values[:10] == [i * 0.5 for i in range(10)] and math.isnan(values[10])
    run.complete()


def test_the_loops_short_path_keeps_steps_types_and_checks(experiment) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore.exceptions import MetricValueError

    run = experiment.start_logging()
    run.log("a", 1.0)  # first use of a name: checked in full
    run.log("a", 2.0)  # then floats take the short path
    run.log("a", 3.0, step=10)
    run.log("a", 4.0)
    run.log("a", True)  # not a float: the full path, same step counter
    run.log("a", 5)
    for bad_name in (["a"], "", None):
        with pytest.raises(MetricValueError):
            run.log(bad_name, 1.0)  # type: ignore[arg-type]
    with pytest.raises(MetricValueError):
        run.log("a", 6.0, step=True)  # type: ignore[arg-type]
    with pytest.raises(MetricValueError):
        run.log("a", 6.0, step=1.5)  # type: ignore[arg-type]
    run.flush()
    points = run._store.get_metrics([run.id], "a")
    assert [p.step for p in points] == [0, 1, 10, 11, 12, 13]
    assert run.get_metrics()["a"] == [1.0, 2.0, 3.0, 4.0, True, 5]
    run.complete()
