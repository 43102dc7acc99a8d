"""The durable spool: its file format, exactly-once storage, offline runs and `aml sync`, a short outage."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest_server import LiveServer
from tcp_proxy import TcpProxy

SUB, RG = "s1", "rg"


# ---------------------------------------------------------------------- the file
def test_records_are_read_back_in_order_and_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    from azuremlcore._tracking.spool import Spool, find_spools

    spool = Spool(tmp_path / "run1", header={"run_id": "run1", "endpoint": "x"})
    for i in range(3):
        spool.append({"t": "metrics", "rows": [["k", "scalar", float(i), None, i, 1000 + i]]})
    spool.append({"t": "metrics", "rows": [["k", "scalar", "NaN", None, 3, 1003]]})
    spool.sync()
    with open(spool.path, "ab") as f:  # a crash in the middle of an append
        f.write(b'{"n":5,"t":"metrics","rows":[["k"')
    again = find_spools(tmp_path)[0]
    assert again.source == spool.source and again.header()["run_id"] == "run1"
    assert [r["n"] for r in again.records()] == [0, 1, 2, 3, 4]
    assert [r["n"] for r in again.records(after=2)] == [3, 4]
    assert [r["n"] for r in again.records(after=0)] == [1, 2, 3, 4]  # a cursor never skips what is asked for
    assert again.acked("srv") == -1
    again.ack("srv", 3)
    again.ack("other", 1)
    assert (again.acked("srv"), again.acked("other")) == (3, 1)
    assert not again.abandoned()  # the writer (this process, another open file) still holds it
    spool.close()
    assert again.abandoned()
    again.release()


def test_a_store_keeps_a_spool_record_once(workspace) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Experiment
    from azuremlcore._store.records import MetricPoint

    run = Experiment(workspace, "exp").start_logging()
    store = run._store

    def pts(*values: float) -> list[MetricPoint]:
        return [MetricPoint(run.id, "m", "scalar", v, None, int(v), 1) for v in values]

    assert store.log_metrics_once(run.id, "src", 0, pts(0, 1)) is True
    assert store.log_metrics_once(run.id, "src", 0, pts(0, 1)) is False  # resent: its answer was lost
    assert store.log_metrics_once(run.id, "src", 1, pts(2)) is True
    assert store.log_metrics_once(run.id, "src", 0, pts(0, 1)) is False  # older than the last stored
    assert store.log_metrics_once(run.id, "other", 0, pts(0)) is True  # another writer counts on its own
    assert run.get_metrics()["m"] == [0, 1, 2, 0]
    assert run.get_tags() == {} and run.get_properties() == {}  # the bookkeeping is not an attribute
    run.complete()


# ---------------------------------------------------------------------- offline runs and aml sync
OFFLINE = """
    import sys
    from azuremlcore import Run

    run = Run.get_context(allow_offline=True)
    for i in range(5):
        run.log("loss", 1.0 / (i + 1))
    run.log("acc", 0.5, step=10)
    run.log_list("lst", [1, 2, None])
    run.log_row("roc", fpr=0.1, tpr=0.9)
    run.tag("who", "me")
    run.add_properties({"seed": 7})
    open("model.txt", "w").write("weights")
    run.upload_file("outputs/model.txt", "model.txt")
    if sys.argv[1] == "fail":
        raise RuntimeError("stopped")
"""


def _offline_script(tmp_path: Path, offline: Path, how: str = "ok") -> str:
    script = tmp_path / "offline.py"
    script.write_text(textwrap.dedent(OFFLINE))
    out = subprocess.run([sys.executable, str(script), how], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "AZUREML_OFFLINE_DIR": str(offline)}, timeout=120)
    assert "Attempted to log scalar metric loss" in out.stdout, out.stdout + out.stderr
    return out.stdout


def test_an_offline_run_is_kept_on_disk_and_aml_sync_uploads_it_once(workspace, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Experiment, Run
    from azuremlcore._cli.main import main

    offline = tmp_path / "offline"
    printed = _offline_script(tmp_path, offline)
    assert f"aml sync --path {offline}" in printed
    (run_dir,) = offline.iterdir()
    stamps = [r[5] for line in next(run_dir.glob("*.spool")).read_text().splitlines()
              for r in json.loads(line).get("rows", [])]

    capsys.readouterr()
    args = ["sync", "--path", str(offline), "-w", workspace.name, "-g", workspace.resource_group, "-e", "exp",
            "-o", "json"]
    assert main(args) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["runId"] == run_dir.name and row["result"] == "uploaded" and row["status"] == "Completed"
    assert (row["points"], row["attributes"], row["files"]) == (10, 2, 1)
    assert main(args) == 0  # twice: nothing new
    (again,) = json.loads(capsys.readouterr().out)
    assert again["result"] == "up to date" and again["points"] == 0

    run = Run(Experiment(workspace, "exp"), run_dir.name)
    assert run.get_status() == "Completed"
    metrics = run.get_metrics()
    assert metrics["loss"] == [1.0, 0.5, 1.0 / 3, 0.25, 0.2] and metrics["acc"] == 0.5
    assert metrics["lst"] == [1, 2, None] and metrics["roc"] == {"fpr": 0.1, "tpr": 0.9}
    assert run.get_tags()["who"] == "me" and run.get_properties()["seed"] == "7"
    assert "outputs/model.txt" in run.get_file_names()
    stored = sorted(p.timestamp for p in run._store.get_metrics([run.id]))
    assert stored == sorted(stamps)  # the times they were logged, not the time of the upload
    assert run._record.created_time == json.loads(next(run_dir.glob("*.spool")).read_text().splitlines()[0])["created_time"]


def test_an_offline_run_that_raised_is_uploaded_failed(workspace, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore._cli.main import main

    offline = tmp_path / "offline"
    _offline_script(tmp_path, offline, "fail")
    capsys.readouterr()
    assert main(["sync", "--path", str(offline), "-w", workspace.name, "-g", workspace.resource_group,
                 "-o", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["result"].startswith("skipped") and "-e" in row["result"]  # no experiment: nothing is guessed
    assert main(["sync", "--path", str(offline), "-w", workspace.name, "-g", workspace.resource_group,
                 "-e", "exp", "-o", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["status"] == "Failed"


def test_aml_sync_names_a_missing_folder(workspace, capsys) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore._cli.main import main

    assert main(["sync", "--path", "/no/such/folder", "-w", workspace.name, "-g", workspace.resource_group]) != 0
    assert "No such folder: /no/such/folder" in capsys.readouterr().err


# ---------------------------------------------------------------------- a run on a server through an outage
@pytest.fixture
def proxied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A live server reached through a TCP proxy (this process's endpoint is the proxy)."""
    srv = LiveServer(tmp_path / "server")
    proxy = TcpProxy(srv.port)
    monkeypatch.setenv("AZUREMLCORE_ENDPOINT", proxy.url)
    monkeypatch.setenv("AZUREMLCORE_TOKEN", srv.token("alice", "Contributor", f"/subscriptions/{SUB}"))
    yield srv, proxy
    proxy.close()
    srv.stop()


def test_a_run_on_a_server_logs_through_an_outage_and_catches_up(proxied, tmp_path: Path, wait_until) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Experiment, Workspace
    from azuremlcore._tracking.spool import spool_root

    srv, proxy = proxied
    ws = Workspace.create("spooled", subscription_id=SUB, resource_group=RG, exist_ok=True, show_output=False)
    run = Experiment(ws, "exp").start_logging()
    for i in range(500):
        run.log("v", i)
    run.flush()
    assert run.get_metrics()["v"] == list(range(500))

    proxy.down()
    for i in range(500, 2000):  # no exception, no wait: the values go to the spool on disk
        run.log("v", i)
    run.flush()  # returns: the server is unreachable, the values are safe on disk
    run.tag("phase", "offline")  # kept for later, shown now
    assert run.tags["phase"] == "offline"
    (tmp_path / "f.txt").write_text("file while offline")
    assert run.upload_file("outputs/f.txt", str(tmp_path / "f.txt"))["size"] == len("file while offline")
    spools = list((spool_root() / run.id).glob("*.spool"))
    assert len(spools) == 1
    run.complete()  # the end is kept too
    assert run._record.status == "Completed"

    proxy.up()

    def stored() -> int:
        from azuremlcore._client.http import ServerUnavailableError

        try:
            return len(run.get_metrics().get("v", []))
        except ServerUnavailableError:  # a POST on a pooled connection the outage broke is not retried
            return -1

    wait_until(lambda: stored() == 2000, timeout=60, what="the spool replayed")
    assert run.get_metrics()["v"] == list(range(2000))
    assert run.get_tags()["phase"] == "offline"
    wait_until(lambda: "outputs/f.txt" in run.get_file_names(), timeout=30, what="the file uploaded")
    run.download_file("outputs/f.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "file while offline"
    wait_until(lambda: run._store.get_run(run.id).status == "Completed", timeout=30, what="the end sent")


def test_without_the_spool_nothing_is_written_to_disk(proxied, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Experiment, Workspace
    from azuremlcore._tracking.spool import spool_root

    monkeypatch.setenv("AZUREMLCORE_SPOOL", "0")
    ws = Workspace.create("unspooled", subscription_id=SUB, resource_group=RG, exist_ok=True, show_output=False)
    run = Experiment(ws, "exp").start_logging()
    for i in range(100):
        run.log("v", i)
    assert run.get_metrics()["v"] == list(range(100))
    assert not (spool_root() / run.id).exists()
    run.complete()


def test_records_sent_together_are_stored_once_even_when_regrouped(workspace) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Experiment
    from azuremlcore._store.records import MetricPoint

    run = Experiment(workspace, "exp").start_logging()
    points = [MetricPoint(run.id, "m", "scalar", float(i), None, i, 1) for i in range(6)]
    # Records 0..2 (two points each): 0 and 1 sent together, their answer lost; then 0..2 together.
    assert run._store.log_metrics_once(run.id, "src", [0, 0, 1, 1], points[:4]) is True
    assert run._store.log_metrics_once(run.id, "src", [0, 0, 1, 1, 2, 2], points) is True
    assert run._store.log_metrics_once(run.id, "src", [1, 1, 2, 2], points[2:]) is False
    assert run.get_metrics()["m"] == [0, 1, 2, 3, 4, 5]
    run.complete()


KILLED = """
    import sys
    from azuremlcore import Experiment, Workspace

    ws = Workspace.get("adopt", subscription_id="s1", resource_group="rg")
    run = Experiment(ws, "exp").start_logging()
    for i in range(100):
        run.log("v", i)
    run.flush()
    print(run.id, flush=True)
    sys.stdin.readline()  # the test takes the server away
    for i in range(100, 1100):
        run.log("v", i)
    run.flush()  # on disk: the server is unreachable
    print("spooled", flush=True)
    sys.stdin.readline()  # killed here
"""


def test_the_next_process_that_opens_the_workspace_sends_what_a_killed_one_spooled(proxied, tmp_path: Path, wait_until) -> None:  # type: ignore[no-untyped-def]
    import signal

    from azuremlcore import Experiment, Run, Workspace

    srv, proxy = proxied
    Workspace.create("adopt", subscription_id=SUB, resource_group=RG, exist_ok=True, show_output=False)
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(KILLED))
    proc = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        run_id = proc.stdout.readline().strip()
        proxy.down()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "spooled"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    proxy.up()
    from azuremlcore._tracking import spool_sync

    spool_sync._adopted.clear()  # as in a new process (where no `aml sync` ran before)
    spool_sync._adopting = True
    ws = Workspace("s1", "rg", "adopt")  # opening the workspace replays the abandoned spool (background)
    run = Run(Experiment(ws, "exp"), run_id)

    def stored() -> int:
        from azuremlcore._client.http import ServerUnavailableError

        try:
            return len(run.get_metrics().get("v", []))
        except ServerUnavailableError:
            return -1

    wait_until(lambda: stored() == 1100, timeout=60, what="the killed process's spool replayed")
    assert run.get_metrics()["v"] == list(range(1100))



def test_the_server_takes_a_spool_record_once_and_says_what_a_bad_one_lacks(proxied) -> None:  # type: ignore[no-untyped-def]
    import requests

    from azuremlcore import Experiment, Workspace

    srv, _ = proxied
    ws = Workspace.create("wire", subscription_id=SUB, resource_group=RG, exist_ok=True, show_output=False)
    run = Experiment(ws, "exp").start_logging()
    url = f"{srv.url}{run._store.ws_path(ws._ws_id)}/metrics"
    hdrs = {"Authorization": f"Bearer {os.environ['AZUREMLCORE_TOKEN']}"}
    body = {"run_id": run.id, "rows": [["m", "scalar", 1.5, None, 0, 1], ["m", "scalar", "NaN", None, 1, 2]],
            "source": "abc", "seq": 0}
    for _ in range(2):  # the answer to the first was lost: sent again
        assert requests.post(url, json=body, headers=hdrs, timeout=30).status_code == 204
    values = run.get_metrics()["m"]
    assert values[0] == 1.5 and values[1] != values[1] and len(values) == 2
    for bad, says in (({"rows": body["rows"]}, "run_id"), ({**body, "source": None}, "both"),
                      ({**body, "seq": [0]}, "record numbers")):
        resp = requests.post(url, json=bad, headers=hdrs, timeout=30)
        assert resp.status_code == 400 and says in resp.json()["message"], resp.text
    run.complete()
