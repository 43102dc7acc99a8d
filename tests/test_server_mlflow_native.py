"""MLflow experiment and run requests answered without MLflow: same results as MLflow's own rules, no MLflow import.

The search grammar reader is checked against MLflow's own `SearchUtils` (filter and sort applied to
the same runs on the client side), and a server that has answered the everyday calls has still not
imported MLflow.
"""
from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from azuremlcore._store.run_search import Clause, Order
from azuremlcore.server import _mlflow_search as grammar
from conftest_server import LiveServer

mlflow = pytest.importorskip("mlflow")

ARM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w1"


def test_filter_grammar_reads_comparisons_and_refuses_the_rest():
    assert grammar.parse_filter("metrics.m0 > 0.5 and params.p1 = 'b'") == [
        Clause("metric", "m0", ">", 0.5), Clause("param", "p1", "=", "b")]
    assert grammar.parse_filter('metric.`my key` <= -1e3 AND tags."a.b" LIKE \'x%\'') == [
        Clause("metric", "my key", "<=", -1000.0), Clause("tag", "a.b", "LIKE", "x%")]
    assert grammar.parse_filter("attributes.status = 'FINISHED'") == [
        Clause("attribute", "status", "IN", ["Completed"])]
    assert grammar.parse_filter("attribute.run_id IN ('a', 'b')") == [Clause("attribute", "run_id", "IN", ["a", "b"])]
    assert grammar.parse_filter("") == [] and grammar.parse_filter(None) == []
    for unsupported in ("metrics.a > 1 OR metrics.b > 1", "datasets.name = 'x'", "tags.mlflow.runName = 'x'",
                        "metrics.a = 'text'", "params.p > 1", "attributes.artifact_uri = 'x'", "metrics.a >",
                        "metrics.a > 1 and", "nonsense"):
        with pytest.raises(grammar.Unsupported):
            grammar.parse_filter(unsupported)
    assert grammar.parse_order_by(["metrics.m2 DESC", "params.p", "start_time"]) == [
        Order("metric", "m2", False), Order("param", "p", True), Order("attribute", "start_time", True)]


@pytest.fixture(params=["sqlite", "postgres"])
def client(request, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The stock MLflow client on workspace w1 of a live server, on SQLite and on PostgreSQL (a fresh database)."""
    db_url = None
    if request.param == "postgres":
        db_url = request.getfixturevalue("postgres_database")("native")
    server = LiveServer(tmp_path / "server", db_url=db_url)
    token = server.token()
    requests.put(f"{server.url}{ARM}", json={}, headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    yield mlflow.MlflowClient(tracking_uri=server.url + ARM)
    server.stop()


def test_runs_params_tags_and_search_match_mlflow_rules(client):
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.utils.search_utils import SearchUtils

    exp = client.create_experiment("native")
    assert client.get_experiment(exp).name == "native" == client.get_experiment_by_name("native").name
    assert client.get_experiment_by_name("missing") is None
    rng, now, made = random.Random(5), 1_700_000_000_000, []
    for i in range(30):
        run = client.create_run(exp, start_time=now + i, tags={"team": "ab"[i % 2]}, run_name=f"r{i}")
        assert run.info.run_name == f"r{i}" and run.data.tags["team"] == "ab"[i % 2]
        metrics = [Metric(f"m{j}", rng.choice([rng.random(), float(j)]), now, 0) for j in range(3)]
        if i % 7 == 0:
            metrics = metrics[1:]  # some runs lack m0: never matched, last when ordered by it
        client.log_batch(run.info.run_id, metrics=metrics, params=[Param("p", "xyz"[i % 3])],
                         tags=[RunTag("odd", str(i % 2))])
        made.append(run.info.run_id)
    client.set_terminated(made[0])
    got = client.get_run(made[1])
    assert got.data.params == {"p": "y"} and got.data.tags["odd"] == "1" and set(got.data.metrics) == {"m0", "m1",
                                                                                                         "m2"}
    assert client.get_run(made[0]).info.status == "FINISHED"
    everything = client.search_runs([exp], max_results=1000)
    assert len(everything) == 30 and [r.info.run_id for r in everything] == made[::-1]  # newest first
    for flt, order in (("metrics.m0 > 0.5 and params.p = 'y'", ["metrics.m1 DESC"]),
                       ("tags.team = 'a'", ["metrics.m0"]), ("params.p != 'x'", ["params.p DESC", "metrics.m2"]),
                       ("attributes.status = 'FINISHED'", []), ("tags.team LIKE 'A%'", []),
                       ("tags.team ILIKE 'A%'", []), ("metrics.m2 <= 1", ["attributes.run_name"]),
                       ("attributes.run_name = 'r3'", [])):
        expected = SearchUtils.sort(SearchUtils.filter(everything, flt), order)
        found = client.search_runs([exp], flt, order_by=order, max_results=1000)
        assert [r.info.run_id for r in found] == [r.info.run_id for r in expected], (flt, order)
    page1 = client.search_runs([exp], max_results=10)
    page2 = client.search_runs([exp], max_results=10, page_token=page1.token)
    assert [r.info.run_id for r in page1 + page2] == made[::-1][:20]


def test_changed_param_and_unknown_experiment_keep_mlflow_errors(client):
    from mlflow.exceptions import MlflowException

    exp = client.create_experiment("errors")
    run_id = client.create_run(exp).info.run_id
    client.log_param(run_id, "p", "1")
    client.log_param(run_id, "p", "1")  # the same value again is fine
    with pytest.raises(MlflowException) as bad:
        client.log_param(run_id, "p", "2")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as missing:
        client.create_run("424242")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as dup:
        client.create_experiment("errors")
    assert dup.value.error_code == "RESOURCE_ALREADY_EXISTS"
    client.delete_run(run_id)  # MLflow's own path
    with pytest.raises(MlflowException) as deleted:
        client.set_tag(run_id, "t", "v")
    assert deleted.value.error_code == "INVALID_PARAMETER_VALUE"


def test_everyday_calls_do_not_load_mlflow(tmp_path):
    tests = Path(__file__).resolve().parent
    code = f"""
import sys
sys.path.insert(0, {str(tests)!r})
from pathlib import Path
import requests
from conftest_server import LiveServer
srv = LiveServer(Path({str(tmp_path)!r}))
h = {{"Authorization": "Bearer " + srv.token()}}
base = srv.url + {ARM!r}
requests.put(base, json={{}}, headers=h).raise_for_status()
api = base + "/api/2.0/mlflow"
exp = requests.post(api + "/experiments/create", json={{"name": "e"}}, headers=h).json()["experiment_id"]
requests.get(api + "/experiments/get-by-name", params={{"experiment_name": "e"}}, headers=h).raise_for_status()
run = requests.post(api + "/runs/create", json={{"experiment_id": exp, "tags": [{{"key": "a", "value": "b"}}]}},
                    headers=h).json()["run"]["info"]["run_id"]
for path, body in (("/runs/log-batch", {{"run_id": run, "params": [{{"key": "p", "value": "1"}}],
                                          "metrics": [{{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}}]}}),
                   ("/runs/log-metric", {{"run_id": run, "key": "m", "value": 2.0, "timestamp": 2}}),
                   ("/runs/set-tag", {{"run_id": run, "key": "t", "value": "v"}}),
                   ("/runs/update", {{"run_id": run, "status": "FINISHED", "end_time": 3}}),
                   ("/runs/search", {{"experiment_ids": [exp], "filter": "metrics.m > 0"}})):
    requests.post(api + path, json=body, headers=h).raise_for_status()
requests.get(api + "/runs/get", params={{"run_id": run}}, headers=h).raise_for_status()
requests.get(api + "/metrics/get-history", params={{"run_id": run, "metric_key": "m"}}, headers=h).raise_for_status()
srv.stop()
print(sorted(m for m in ("mlflow", "pandas", "numpy") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def _all_pages(client, exp_ids: list[str], flt: str, order: list[str], size: int) -> list[str]:
    found, token = [], None
    while True:
        page = client.search_runs(exp_ids, flt, order_by=order, max_results=size, page_token=token)
        found += [r.info.run_id for r in page]
        token = page.token
        if not token:
            return found


def test_walked_orders_and_pages_match_mlflow_rules(client):
    """The orders searches answer by walking an index (start time, a metric) and the ones they sort, page by page,
    with start times shared by several runs, runs ended or not, NaN latest values and two experiments."""
    from mlflow.entities import Metric, Param
    from mlflow.utils.search_utils import SearchUtils

    exp, other = client.create_experiment("walks"), client.create_experiment("walks-other")
    rng, now = random.Random(11), 1_700_000_000_000
    for i in range(36):
        run = client.create_run(exp if i % 4 else other, start_time=now + i // 3)  # three runs per start time
        value = float("nan") if i % 9 == 4 else rng.choice([rng.random(), 0.5])  # NaN latest values, ties on 0.5
        metrics = [Metric("m", value, now, 0)] if i % 5 else []
        client.log_batch(run.info.run_id, metrics=metrics, params=[Param("p", "xy"[i % 2])])
        if i % 3 == 0:
            client.set_terminated(run.info.run_id, end_time=now + 100 - i)
    both = client.search_runs([exp, other], max_results=1000)
    mine = [r for r in both if r.info.experiment_id == exp]
    for flt, order in (("", []), ("params.p = 'x'", []), ("", ["attributes.start_time ASC"]),
                       ("", ["attributes.start_time DESC"]), ("", ["metrics.m DESC"]), ("params.p = 'y'", ["metrics.m"]),
                       ("", ["attributes.end_time DESC"]), ("", ["params.p", "attributes.start_time"]),
                       ("", ["attributes.run_id DESC"])):
        expected = [r.info.run_id for r in SearchUtils.sort(SearchUtils.filter(mine, flt), order)]
        assert _all_pages(client, [exp], flt, order, 4) == expected, (flt, order)
        expected = [r.info.run_id for r in SearchUtils.sort(SearchUtils.filter(both, flt), order)]
        assert _all_pages(client, [exp, other], flt, order, 5) == expected, ("both", flt, order)
