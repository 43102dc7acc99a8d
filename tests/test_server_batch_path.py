"""The typed decode of plain metric bodies (server._metric_decode, msgspec) changes no answer: every body,
good or bad, gets the same status, error body and stored points as through the dict walk it skips."""
from __future__ import annotations

import json
import math
import random

import pytest
import requests

from conftest_server import LiveServer

pytest.importorskip("msgspec")
pytest.importorskip("mlflow")

from azuremlcore.server import _metric_decode, routes_mlflow  # noqa: E402

_metric_decode.decode_batch(b"{}")  # builds the decoders, so a test's saved state is the loaded one

ARM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces"
RUN = "0123456789abcdef0123456789abcdef"


def _walk(parse, body: bytes):  # type: ignore[no-untyped-def]
    """What the parser gives without the typed decode (the dict walk alone), points as a list."""
    saved = _metric_decode._decoders
    _metric_decode._decoders = False  # as without msgspec
    try:
        out = parse(body)
    finally:
        _metric_decode._decoders = saved
    return None if out is None else (out[0], list(out[1]))


def _typed(parse, body: bytes):  # type: ignore[no-untyped-def]
    out = parse(body)
    return None if out is None else (out[0], list(out[1]))


def _same(a, b) -> bool:  # type: ignore[no-untyped-def]
    """Equal results, NaN equal to NaN and -0.0 told from 0.0."""
    if a is None or b is None:
        return a is b
    if a[0] != b[0] or len(a[1]) != len(b[1]):
        return False
    for p, q in zip(a[1], b[1]):
        if (p.run_id, p.key, p.kind, p.value_json, p.step, p.timestamp) != (q.run_id, q.key, q.kind, q.value_json,
                                                                           q.step, q.timestamp):
            return False
        if type(p.value) is not type(q.value) or (p.value != q.value and not (math.isnan(p.value) and
                                                                             math.isnan(q.value))):
            return False
        if math.copysign(1.0, p.value) != math.copysign(1.0, q.value):
            return False
    return True


# Point texts the walk takes, refuses or sends to MLflow's path; each is tried alone and inside batches.
POINTS = [
    '{"key": "a", "value": 1.5, "timestamp": 10, "step": 3}', '{"key": "a", "value": 1.5, "timestamp": 10}',
    '{"key": "a", "value": 7, "timestamp": 10, "step": 0}', '{"key": "a", "value": -0.0, "timestamp": 0, "step": -1}',
    '{"key": "a", "value": -0, "timestamp": 1}', '{"key": "a", "value": -0e5, "timestamp": 1}',
    '{"key": "a", "value": 100000000000000000000001, "timestamp": 1}', '{"key": "a", "value": 1e400, "timestamp": 1}',
    '{"key": "a", "value": 1e-400, "timestamp": 1}', '{"key": "a", "value": NaN, "timestamp": 1}',
    '{"key": "a", "value": -Infinity, "timestamp": 1}', '{"key": "a", "value": "NaN", "timestamp": 1}',
    '{"key": "a", "value": "Infinity", "timestamp": 1}', '{"key": "a", "value": "1.5", "timestamp": 1}',
    '{"key": "a", "value": true, "timestamp": 1}', '{"key": "a", "value": null, "timestamp": 1}',
    '{"key": "a", "value": 1, "timestamp": 1.0}', '{"key": "a", "value": 1, "timestamp": -1}',
    '{"key": "a", "value": 1, "timestamp": 9223372036854775807}',
    '{"key": "a", "value": 1, "timestamp": 9223372036854775808}',
    '{"key": "a", "value": 1, "timestamp": 1, "step": -9223372036854775808}',
    '{"key": "a", "value": 1, "timestamp": 1, "step": 9223372036854775808}',
    '{"key": "a", "value": 1, "timestamp": 1, "step": null}', '{"key": "a", "value": 1, "timestamp": "1"}',
    '{"key": "a", "value": 1}', '{"value": 1, "timestamp": 1}', '{"key": "a", "timestamp": 1}',
    '{"key": "a", "value": 1, "timestamp": 1, "extra": 0}', '{"key": "a", "key": "b", "value": 1, "timestamp": 1}',
    '{"key": "b", "key": "../x", "value": 1, "timestamp": 1}', '{"key": "../x", "value": 1, "timestamp": 1}',
    '{"key": "", "value": 1, "timestamp": 1}', '{"key": "a b/c-d.e:f_\\u00e9", "value": 1, "timestamp": 1}',
    '{"key": "x\\ny", "value": 1, "timestamp": 1}', '{"key": 5, "value": 1, "timestamp": 1}',
    '{"key": "' + "k" * 251 + '", "value": 1, "timestamp": 1}', '[]', '5', '"a"', 'null',
]


def _batch_bodies(rng: random.Random) -> list[bytes]:
    texts = [f'{{"run_id": "{RUN}", "metrics": [{p}]}}' for p in POINTS]
    for _ in range(40):
        mixed = ", ".join(rng.choice(POINTS[:8]) for _ in range(rng.randint(1, 9)))
        texts.append(f'{{"run_id": "{RUN}", "metrics": [{mixed}]}}')
    good = '{"key": "a", "value": 1.5, "timestamp": 10, "step": 3}'
    texts += [
        f'{{"run_id": "{RUN}", "metrics": [{", ".join([good] * 1000)}]}}',
        f'{{"run_id": "{RUN}", "metrics": [{", ".join([good] * 1001)}]}}',
        f'{{"run_id": "{RUN}", "metrics": []}}', f'{{"run_id": "{RUN}"}}', f'{{"run_id": "{RUN}", "metrics": null}}',
        f'{{"run_id": "{RUN}", "metrics": [{good}], "params": [], "tags": []}}',
        f'{{"run_id": "{RUN}", "metrics": [{good}], "params": null}}',
        f'{{"run_id": "{RUN}", "metrics": [{good}], "params": [{{"key": "p", "value": "v"}}]}}',
        f'{{"run_id": "{RUN}", "metrics": [{good}], "tags": [{{"key": "t", "value": "v"}}]}}',
        f'{{"run_id": "{RUN}", "metrics": [{good}], "other": 1}}', f'{{"metrics": [{good}]}}',
        f'{{"run_id": 5, "metrics": [{good}]}}', f'{{"run_id": "", "metrics": [{good}]}}',
        f'{{"run_id": "-bad", "metrics": [{good}]}}', f'{{"run_id": "a/b", "metrics": [{good}]}}',
        f'{{"run_id": "{"r" * 257}", "metrics": [{good}]}}', f'{{"run_id": "{RUN}", "metrics": {good}}}',
        f'{{"run_id": "{RUN}", "run_id": "other", "metrics": [{good}]}}',
        f' {{"run_id": "{RUN}", "metrics": [{good}]}} ', f'{{"run_id": "{RUN}", "metrics": [{good},]}}',
        f'{{"run_id": "{RUN}", "metrics": [{good}]}} x', '{', '', '[]', 'null',
        '{"run_id": "\xff", "metrics": []}', '{"run_id": "\\ud800", "metrics": []}',
    ]
    return [t.encode() if isinstance(t, str) else t for t in texts]


def _metric_bodies() -> list[bytes]:
    texts = []
    for p in POINTS:
        if p.startswith("{"):
            inner = p[1:-1]
            texts += [f'{{"run_uuid": "{RUN}", {inner}, "run_id": "{RUN}"}}', f'{{"run_id": "{RUN}", {inner}}}']
    point = '"key": "m", "value": 1.0, "timestamp": 17, "step": 3'
    texts += [f'{{"run_uuid": "{RUN}", {point}}}', f'{{"run_id": "", "run_uuid": "{RUN}", {point}}}',
              f'{{"run_id": "{RUN}", "run_uuid": "other", {point}}}', f'{{"run_id": "", {point}}}', f'{{{point}}}',
              f'{{"run_id": null, "run_uuid": "{RUN}", {point}}}', f'{{"run_id": 7, {point}}}',
              f'{{"run_id": "{RUN}", {point}, "model_id": "x"}}', '{}', '[]', '']
    return [t.encode() for t in texts]


def test_typed_decode_gives_what_the_walk_gives_for_every_batch_body():
    bodies = _batch_bodies(random.Random(3))
    taken = 0
    for body in bodies:
        walk, typed = _walk(routes_mlflow.log_batch_points, body), _typed(routes_mlflow.log_batch_points, body)
        assert _same(walk, typed), body[:200]
        taken += _metric_decode.decode_batch(body) is not None
    assert taken >= 20  # the typed decode does take the usual bodies (not a test of the walk alone)


def test_typed_decode_gives_what_the_walk_gives_for_every_metric_body():
    taken = 0
    for body in _metric_bodies():
        walk, typed = _walk(routes_mlflow.log_metric_points, body), _typed(routes_mlflow.log_metric_points, body)
        assert _same(walk, typed), body
        taken += _metric_decode.decode_single(body) is not None
    assert taken >= 10


def test_random_batches_decode_alike():
    rng = random.Random(11)
    for _ in range(300):
        points = []
        for _ in range(rng.randint(1, 30)):
            value = rng.choice([rng.random() * 10 ** rng.randint(-30, 30), rng.randint(-2 ** 70, 2 ** 70), 0.0,
                                -0.0, rng.uniform(-1, 1)])
            d = {"key": rng.choice(["a", "b/c", "loss", "x y"]), "value": value,
                 "timestamp": rng.choice([0, rng.randint(0, 2 ** 63 - 1), 1_733_000_000_000 + rng.randint(0, 9)])}
            if rng.random() < 0.7:
                d["step"] = rng.choice([0, rng.randint(-2 ** 63, 2 ** 63 - 1), rng.randint(0, 100)])
            points.append(d)
        body = json.dumps({"run_id": RUN, "metrics": points}).encode()
        typed = _typed(routes_mlflow.log_batch_points, body)
        assert typed is not None and _same(_walk(routes_mlflow.log_batch_points, body), typed), body[:300]


@pytest.fixture(params=["sqlite", "postgres"])
def live_server(request, tmp_path):  # type: ignore[no-untyped-def]
    """A live server on SQLite, or on a fresh PostgreSQL database (skips without one, except in CI)."""
    db_url = None if request.param == "sqlite" else request.getfixturevalue("postgres_database")("batchpath")
    server = LiveServer(tmp_path / "server", db_url=db_url)
    yield server
    server.stop()


@pytest.fixture
def rest(live_server):  # type: ignore[no-untyped-def]
    """(call(path, body bytes) -> response, new_run(finished, deleted) -> run id, history(run id, key) -> points)
    for workspace w1 of a live server."""
    token = live_server.token()
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    requests.put(f"{live_server.url}{ARM}/w1", json={}, headers=auth).raise_for_status()
    base = f"{live_server.url}{ARM}/w1/api/2.0/mlflow"

    def call(path: str, body: bytes, headers: dict | None = None) -> requests.Response:
        return requests.post(base + path, data=body, headers=headers or auth)

    exp = call("/experiments/create", b'{"name": "e"}').json()["experiment_id"]

    def new_run(finished: bool = False, deleted: bool = False) -> str:
        run_id = call("/runs/create", json.dumps({"experiment_id": exp}).encode()).json()["run"]["info"]["run_id"]
        if finished:
            call("/runs/update", json.dumps({"run_id": run_id, "status": "FINISHED", "end_time": 5}).encode())
        if deleted:
            call("/runs/delete", json.dumps({"run_id": run_id}).encode()).raise_for_status()
        return run_id

    def history(run_id: str, key: str) -> list:
        r = requests.get(base + "/metrics/get-history", params={"run_id": run_id, "metric_key": key},
                         headers=auth)
        return r.json().get("metrics", [])

    return call, new_run, history


def _answers(call, bodies):  # type: ignore[no-untyped-def]
    return [(r.status_code, r.text) for r in (call(path, body) for path, body in bodies)]


@pytest.mark.parametrize("target", ["active", "finished", "deleted", "unknown"])
def test_live_answers_and_stored_points_are_the_same_with_and_without_the_typed_decode(rest, target):
    call, new_run, history = rest
    runs = []
    outcomes = []
    for typed in (True, False):
        run_id = "f" * 32 if target == "unknown" else new_run(finished=target == "finished",
                                                               deleted=target == "deleted")
        runs.append(run_id)
        bodies = [("/runs/log-batch", b.replace(RUN.encode(), run_id.encode()))
                  for b in _batch_bodies(random.Random(5))]
        bodies += [("/runs/log-metric", b.replace(RUN.encode(), run_id.encode())) for b in _metric_bodies()]
        saved = _metric_decode._decoders
        if not typed:
            _metric_decode._decoders = False  # as without msgspec
        try:
            answers = _answers(call, bodies)
        finally:
            _metric_decode._decoders = saved
        stored = {k: [(m["value"], m["timestamp"], m["step"]) for m in history(run_id, k)]
                  for k in ("a", "m", "b/c")} if target != "unknown" else {}
        outcomes.append((answers, stored))
    (typed_answers, typed_stored), (walk_answers, walk_stored) = outcomes
    assert [s for s, _ in typed_answers] == [s for s, _ in walk_answers]
    # Error texts name the run; with the runs' ids swapped they are the same text.
    assert [t.replace(runs[0], "RUN") for _, t in typed_answers] == [t.replace(runs[1], "RUN") for _, t in walk_answers]
    assert typed_stored == walk_stored
    if target in ("active", "finished"):
        assert typed_stored["a"] and any(s == 200 for s, _ in typed_answers)
    else:
        assert all(s != 200 for s, _ in typed_answers)


def test_an_idle_server_has_not_loaded_msgspec(tmp_path):
    import subprocess
    import sys

    code = ("import sys\nfrom pathlib import Path\nfrom azuremlcore.server import ServerConfig, create_app\n"
            f"create_app(ServerConfig(data_dir=Path({str(tmp_path)!r})))\n"
            "from azuremlcore.server import _metric_decode\n"
            "print('msgspec' in sys.modules)\n"
            "_metric_decode.decode_batch(b'{}')\n"
            "print('msgspec' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_auth_is_checked_before_any_decode(rest, live_server):
    call, new_run, history = rest
    run_id = new_run()
    body = json.dumps({"run_id": run_id, "metrics": [{"key": "a", "value": 1.0, "timestamp": 1, "step": 0}]}).encode()
    r = call("/runs/log-batch", body, headers={"Content-Type": "application/json"})
    assert r.status_code == 401
    reader = live_server.token("reader", role="Reader")
    r = call("/runs/log-batch", body, headers={"Authorization": f"Bearer {reader}"})
    assert r.status_code == 403
    r = call("/runs/log-batch", body, headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    assert history(run_id, "a") == []


def test_nul_escapes_are_refused_in_a_large_metrics_body(rest):
    call, new_run, history = rest
    run_id = new_run()
    points = [{"key": "a", "value": float(i), "timestamp": 1_733_000_000_000 + i, "step": i} for i in range(999)]
    nul = json.dumps({"run_id": run_id, "metrics": points + [{"key": "a\u0000", "value": 1.0, "timestamp": 1}]})
    assert "\\u0000" in nul
    r = call("/runs/log-batch", nul.encode())
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE" and "NUL" in r.json()["message"]
    # An escaped backslash before "u0000" is text, not a NUL: the name is not plain, so MLflow's path answers it.
    text = json.dumps({"run_id": run_id, "metrics": points + [{"key": "a\\u0000", "value": 1.0, "timestamp": 1}]})
    r = call("/runs/log-batch", text.encode())
    assert "NUL" not in r.text
    assert history(run_id, "a") == []
    r = call("/runs/log-batch", json.dumps({"run_id": run_id, "metrics": points}).encode())
    assert r.status_code == 200 and len(history(run_id, "a")) == 999
