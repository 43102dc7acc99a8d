"""`aml server`'s deferred library modules (`_cli/_deferred_imports`): bound at import, run at first use, once,
from any thread; none of them runs before `/health` or for the first calls; uvicorn's logging set up as its
default configuration would."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from azuremlcore._cli import _deferred_imports
from conftest_server import free_port, wait_for_health

ARM = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w1"


@pytest.fixture()
def package(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A package `deferpkg` on sys.path whose modules count their body's runs in `deferpkg.RUNS`."""
    root = tmp_path / "deferpkg"
    root.mkdir()
    (root / "__init__.py").write_text("RUNS = []\n")
    (root / "plain.py").write_text("import deferpkg\ndeferpkg.RUNS.append('plain')\nVALUE = 42\n"
                                   "def twice(x):\n    return 2 * x\n")
    (root / "slow.py").write_text("import time, deferpkg\ndeferpkg.RUNS.append('slow')\ntime.sleep(0.2)\nVALUE = 7\n")
    (root / "broken.py").write_text("import deferpkg\ndeferpkg.RUNS.append('broken')\nraise ValueError('no')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    finders = list(sys.meta_path)
    yield root
    sys.meta_path[:] = finders
    for name in [n for n in sys.modules if n == "deferpkg" or n.startswith("deferpkg.")]:
        del sys.modules[name]


def test_a_deferred_module_is_bound_at_import_and_runs_at_its_first_use(package):
    _deferred_imports.defer(["deferpkg.plain"])
    import deferpkg
    import deferpkg.plain
    from deferpkg import plain

    assert plain is deferpkg.plain is sys.modules["deferpkg.plain"]
    assert deferpkg.RUNS == []  # bound on its package and here, nothing run
    assert plain.VALUE == 42 and plain.twice(2) == 4
    assert deferpkg.RUNS == ["plain"]
    assert type(plain) is type(sys)  # an ordinary module from then on
    assert plain.__spec__.loader.__class__.__name__ == "SourceFileLoader"
    from deferpkg.plain import VALUE
    assert VALUE == 42 and deferpkg.RUNS == ["plain"]


def test_from_import_of_a_name_runs_the_body(package):
    _deferred_imports.defer(["deferpkg.plain"])
    from deferpkg.plain import twice

    assert twice(3) == 6
    import deferpkg
    assert deferpkg.RUNS == ["plain"]


def test_threads_reading_a_deferred_module_at_once_run_its_body_once(package):
    _deferred_imports.defer(["deferpkg.slow"])
    import deferpkg
    import deferpkg.slow

    seen: list[int] = []
    start = threading.Barrier(6)

    def read() -> None:
        start.wait()
        seen.append(deferpkg.slow.VALUE)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert seen == [7] * 6  # none saw a half-run module
    assert deferpkg.RUNS == ["slow"]


def test_a_failing_body_raises_at_first_use_and_the_next_import_tries_again(package):
    _deferred_imports.defer(["deferpkg.broken"])
    import deferpkg
    import deferpkg.broken

    with pytest.raises(ValueError, match="no"):
        deferpkg.broken.anything  # noqa: B018
    assert "deferpkg.broken" not in sys.modules
    with pytest.raises(ValueError, match="no"):
        import deferpkg.broken  # noqa: F811 - an ordinary import now, which fails as it would have
    assert deferpkg.RUNS == ["broken", "broken"]


def test_names_already_imported_or_not_found_are_left_alone(package):
    import deferpkg.plain

    _deferred_imports.defer(["deferpkg.plain", "deferpkg.missing"])
    assert deferpkg.RUNS == ["plain"] and type(deferpkg.plain) is type(sys)
    with pytest.raises(ModuleNotFoundError):
        import deferpkg.missing  # noqa: F401


def test_default_logging_is_what_uvicorns_default_configuration_sets_up():
    import logging.config

    from uvicorn.config import LOGGING_CONFIG

    from azuremlcore.server import _uvicorn_serve

    names = ("uvicorn", "uvicorn.error", "uvicorn.access")

    def snapshot() -> list[tuple]:
        out = []
        for name in names:
            logger = logging.getLogger(name)
            out.append((name, logger.level, logger.propagate,
                        [(type(h), h.stream, type(h.formatter), h.formatter._fmt, h.formatter.use_colors)
                         for h in logger.handlers]))
        return out

    saved = [(logging.getLogger(n).level, logging.getLogger(n).propagate, list(logging.getLogger(n).handlers))
             for n in names]
    try:
        logging.config.dictConfig(LOGGING_CONFIG)
        theirs = snapshot()
        _uvicorn_serve._default_logging(None)
        assert snapshot() == theirs
    finally:
        for name, (level, propagate, handlers) in zip(names, saved):
            logger = logging.getLogger(name)
            logger.setLevel(level)
            logger.propagate = propagate
            logger.handlers[:] = handlers


_PROBE = """
import signal, sys
from pathlib import Path
def dump(*_):
    from azuremlcore._cli._deferred_imports import SERVER_DEFERRED
    Path(sys.argv[1]).write_text(repr({n: type(sys.modules[n]).__name__ for n in SERVER_DEFERRED if n in sys.modules}))
signal.signal(signal.SIGUSR1, dump)
from azuremlcore._cli.main import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signals")
def test_aml_server_runs_none_of_them_before_health_and_the_first_calls(tmp_path):
    data = tmp_path / "server"
    aml = [sys.executable, "-m", "azuremlcore._cli.main"]
    token = subprocess.check_output(aml + ["token", "create", "--data-dir", str(data), "--user", "u", "--role",
                                           "Owner"], text=True, cwd=tmp_path).strip()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    report = tmp_path / "deferred.txt"
    proc = subprocess.Popen([sys.executable, "-c", _PROBE, str(report), "server", "--data-dir", str(data), "--port",
                             str(port), "--access-log"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        session = requests.Session()
        wait_for_health(session, base, proc)
        session.headers["Authorization"] = f"Bearer {token}"
        assert session.put(f"{base}{ARM}", json={}, timeout=60).json()["name"] == "w1"
        experiment = session.post(f"{base}{ARM}/api/2.0/mlflow/experiments/create", json={"name": "e"}, timeout=60)
        run = session.post(f"{base}{ARM}/api/2.0/mlflow/runs/create",
                           json={"experiment_id": experiment.json()["experiment_id"]}, timeout=60).json()["run"]
        run_id = run["info"]["run_id"]
        assert session.post(f"{base}{ARM}/api/2.0/mlflow/runs/log-metric", json={
            "run_id": run_id, "key": "m", "value": 1.0, "timestamp": 1, "step": 0}, timeout=60).status_code == 200
        bad = session.post(f"{base}{ARM}/api/2.0/mlflow/experiments/create", json={"name": 1}, timeout=60)
        assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert session.get(f"{base}{ARM}/experiments", timeout=60).status_code == 200
        proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 30
        while not report.exists() or not report.read_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        states = eval(report.read_text())  # noqa: S307 - our own probe's repr of a dict of str
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert states, "the SQLite server imported none of the deferred modules: the list is stale"
    # The first lease sweep (a second after start) may have used anyio's worker threads by now; nothing else.
    assert {name: state for name, state in states.items() if name != "anyio.to_thread"} == {
        name: "_Deferred" for name in states if name != "anyio.to_thread"}
    for name in ("logging.config", "http.client", "sqlalchemy.dialects.sqlite.aiosqlite"):
        assert states.get(name) == "_Deferred", name
    # uvicorn's own lines, as its default logging configuration writes them.
    assert f"INFO:     Uvicorn running on http://127.0.0.1:{port} (Press CTRL+C to quit)" in err
    assert '"GET /health HTTP/1.1" 200' in out
    assert "Traceback" not in err


def test_aml_server_builds_its_own_parser_alone_and_the_others_still_parse():
    from azuremlcore._cli import admin, main

    assert sorted(admin.REGISTERS) == sorted(admin.TOP)  # every top-level name has its builder
    parser = main.build_parser(["server", "--data-dir", "d"])
    args = parser.parse_args(["server", "--data-dir", "d", "--port", "5001", "--access-log"])
    assert (args.data_dir, args.port, args.access_log, args._top) == ("d", 5001, True, "server")
    with pytest.raises(SystemExit):
        parser.parse_args(["token", "create", "--data-dir", "d", "--user", "u"])  # not built in this parser
    for argv in (["token", "create", "--data-dir", "d", "--user", "u"], ["device", "list", "--data-dir", "d"],
                 ["principals", "--data-dir", "d"], ["login", "--endpoint", "https://x"]):
        assert main.build_parser(argv).parse_args(argv)._top == argv[0]
