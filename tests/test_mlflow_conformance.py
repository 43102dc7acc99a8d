"""Side by side with stock `mlflow server`: the same error requests get the same status and error_code.

Needs full `mlflow` (its server); runs in `make test-mlflow-full` (.venv-mlflow), skipped elsewhere.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest_server import LiveServer, free_port

pytestmark = pytest.mark.slow
ARM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws1"
UNKNOWN = "0123456789abcdef0123456789abcdef"


def _stock_server(folder: Path) -> tuple[subprocess.Popen, str]:
    try:
        import mlflow.server  # noqa: F401
    except ImportError:
        pytest.skip(reason="stock `mlflow server` is not importable here (mlflow-skinny has no server); "
                    "`make test-mlflow-full` runs this under full mlflow")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
                             f"sqlite:///{folder / 'mlflow.db'}", "--default-artifact-root", str(folder / "art"),
                             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(url + "/health", timeout=5).ok:
                return proc, url
        except (requests.ConnectionError, requests.Timeout):  # still starting (13-15 s here)
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("stock mlflow server did not start")
        time.sleep(0.5)


def _cases(run_id: str, exp_id: str) -> list[tuple[str, str, dict | None, dict | None]]:
    point = {"key": "m", "value": 1.0, "timestamp": 1}
    return [
        ("GET", "/runs/get", {"run_id": "not a run!"}, None),
        ("GET", "/runs/get", {"run_id": UNKNOWN}, None),
        ("GET", "/runs/get", {}, None),
        ("GET", "/metrics/get-history", {"run_id": UNKNOWN, "metric_key": "m"}, None),
        ("GET", "/metrics/get-history", {"run_id": run_id, "metric_key": "m", "max_results": "-1"}, None),
        ("GET", "/metrics/get-history", {"run_id": run_id, "metric_key": "m", "max_results": "0"}, None),
        ("GET", "/metrics/get-history", {"run_id": run_id, "metric_key": "m", "page_token": "garbage"}, None),
        ("GET", "/metrics/get-history", {"run_id": run_id}, None),
        ("POST", "/runs/search", None, {"experiment_ids": [exp_id], "max_results": 50001}),
        ("POST", "/runs/search", None, {"experiment_ids": [exp_id], "max_results": -1}),
        ("POST", "/runs/search", None, {"experiment_ids": [exp_id], "page_token": "garbage"}),
        ("POST", "/experiments/search", None, {"max_results": 50001}),
        ("POST", "/experiments/search", None, {"max_results": 0}),
        ("POST", "/runs/log-metric", None, {"run_id": run_id, "key": "m", "timestamp": 1}),
        ("POST", "/runs/log-metric", None, {"run_id": run_id, "key": "m", "value": 1.0}),
        ("POST", "/runs/log-metric", None, {"run_id": run_id, "value": 1.0, "timestamp": 1}),
        ("POST", "/runs/log-metric", None, {"run_id": run_id, "key": "", "value": 1.0, "timestamp": 1}),
        ("POST", "/runs/log-metric", None, {"run_id": run_id, "key": "m", "value": "x", "timestamp": 1}),
        ("POST", "/runs/log-metric", None, {"run_id": run_id, "key": "m", "value": 1.0, "timestamp": -5}),
        ("POST", "/runs/log-metric", None, {"run_id": run_id, "key": "../x", "value": 1.0, "timestamp": 5}),
        ("POST", "/runs/log-metric", None, {"run_id": UNKNOWN, **point}),
        ("POST", "/runs/log-metric", None, dict(point)),
        ("POST", "/runs/log-parameter", None, {"run_id": run_id, "key": "", "value": "x"}),
        ("POST", "/runs/log-parameter", None, {"run_id": run_id, "key": "k" * 251, "value": "x"}),
        ("POST", "/runs/log-parameter", None, {"run_id": run_id, "key": "long", "value": "x" * 10_000}),
        ("POST", "/runs/set-tag", None, {"run_id": run_id, "key": "", "value": "x"}),
        ("POST", "/runs/set-tag", None, {"run_id": run_id, "key": "long", "value": "x" * 10_000}),
        ("POST", "/runs/log-batch", None, {"run_id": run_id, "metrics": [point] * 1001}),
        ("POST", "/runs/log-batch", None, {"run_id": run_id, "params": [{"key": f"p{i}", "value": "1"}
                                                                       for i in range(101)]}),
        ("POST", "/runs/log-batch", None, {"run_id": run_id, "tags": [{"key": f"t{i}", "value": "1"}
                                                                     for i in range(101)]}),
        ("POST", "/runs/log-batch", None, {"run_id": run_id, "metrics": [{"key": "m", "timestamp": 1}]}),
        ("POST", "/runs/log-batch", None, {"run_id": "bad id!", "metrics": [point]}),
        ("POST", "/runs/log-batch", None, {"run_id": UNKNOWN, "metrics": [point]}),
        ("POST", "/runs/delete", None, {"run_id": UNKNOWN}),
        ("POST", "/runs/set-tag", None, {"run_id": UNKNOWN, "key": "a", "value": "b"}),
        ("GET", "/experiments/get-by-name", {"experiment_name": "nope"}, None),
        ("POST", "/experiments/create", None, {"name": ""}),
        ("POST", "/experiments/create", None, {}),
    ]


def _answer(r: requests.Response) -> tuple[int, str | None]:
    try:
        return r.status_code, r.json().get("error_code")
    except ValueError:
        return r.status_code, None


def test_error_answers_match_stock_mlflow(tmp_path: Path) -> None:
    proc, stock = _stock_server(tmp_path / "stock")
    ours = LiveServer(tmp_path / "ours")
    try:
        h = {"Authorization": f"Bearer {ours.token('admin', 'Owner', '/')}"}
        requests.put(ours.url + ARM, json={}, headers=h).raise_for_status()
        sides = {"stock": (stock + "/api/2.0/mlflow", {}), "ours": (ours.url + ARM + "/api/2.0/mlflow", h)}
        ids = {}
        for name, (base, headers) in sides.items():
            exp = requests.post(base + "/experiments/create", json={"name": "conf"}, headers=headers).json()
            run = requests.post(base + "/runs/create", json={"experiment_id": exp["experiment_id"]},
                                headers=headers).json()
            ids[name] = (run["run"]["info"]["run_id"], exp["experiment_id"])
        differences = []
        for i, _ in enumerate(_cases("r", "e")):
            got = {}
            for name, (base, headers) in sides.items():
                method, path, params, body = _cases(*ids[name])[i]
                got[name] = _answer(requests.request(method, base + path, params=params, json=body, headers=headers))
            if got["stock"] != got["ours"]:
                differences.append(f"{method} {path} {params or body!s:.80}: stock {got['stock']}, ours {got['ours']}")
        assert not differences, "\n".join(differences)
        # Over-long values are cut to MLflow's limits, not refused, on both.
        for name, (base, headers) in sides.items():
            data = requests.get(base + "/runs/get", params={"run_id": ids[name][0]}, headers=headers).json()["run"]["data"]
            assert {p["key"]: len(p["value"]) for p in data["params"]}["long"] == 6000, name
            assert {t["key"]: len(t["value"]) for t in data["tags"]}["long"] == 8000, name
    finally:
        ours.stop()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()

