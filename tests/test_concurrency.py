"""Many processes and threads logging into one embedded workspace: nothing locked, nothing lost."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

from azuremlcore import Experiment, Run

WRITER = """
import sys
from azuremlcore import Workspace, Experiment, Run
ws = Workspace.get("ws1")
exp = Experiment(ws, "exp")
shared = Run(exp, sys.argv[1])
own = exp.start_logging()
for i in range(int(sys.argv[2])):
    shared.log("points", float(i))
    own.log("mine", i)
    if i % 500 == 0:
        shared.tag(f"proc-{sys.argv[3]}", str(i))
        own.flush()
own.complete()
shared.flush()
print(own.id)
"""


def test_four_processes_log_into_one_workspace(experiment, azuremlcore_home):
    shared = experiment.start_logging()
    n, procs = 3000, []
    env = {**os.environ, "AZUREMLCORE_HOME": str(azuremlcore_home)}
    for p in range(4):
        procs.append(subprocess.Popen([sys.executable, "-c", WRITER, shared.id, str(n), str(p)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    own_ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        assert "locked" not in err
        own_ids.append(out.strip().splitlines()[-1])
    points = shared.get_metrics()["points"]
    assert len(points) == 4 * n and sorted(points) == sorted(float(i) for i in range(n) for _ in range(4))
    for run_id in own_ids:
        assert Run(experiment, run_id).get_metrics()["mine"] == list(range(n))
    assert set(shared.get_tags()) == {f"proc-{p}" for p in range(4)}


def test_threads_share_a_run(experiment):
    run = experiment.start_logging()

    def work(k: int) -> None:
        for i in range(2000):
            run.log(f"t{k}", i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    m = run.get_metrics()
    assert all(m[f"t{k}"] == list(range(2000)) for k in range(4))


def test_flushed_metrics_survive_a_killed_process(experiment, azuremlcore_home):
    run = experiment.start_logging()
    code = ("import os, sys\nfrom azuremlcore import Workspace, Experiment, Run\n"
            "run = Run(Experiment(Workspace.get('ws1'), 'exp'), sys.argv[1])\n"
            "for i in range(100): run.log('kept', i)\n"
            "run.flush()\n"
            "os._exit(9)  # dies without atexit handlers, as a crash would\n")
    proc = subprocess.run([sys.executable, "-c", code, run.id], env={**os.environ,
                          "AZUREMLCORE_HOME": str(azuremlcore_home)}, capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    assert run.get_metrics()["kept"] == list(range(100))


def test_unflushed_metrics_written_at_exit(experiment, azuremlcore_home):
    run = experiment.start_logging()
    code = ("import sys\nfrom azuremlcore import Workspace, Experiment, Run\n"
            "run = Run(Experiment(Workspace.get('ws1'), 'exp'), sys.argv[1])\n"
            "for i in range(5000): run.log('late', i)\n")
    subprocess.run([sys.executable, "-c", code, run.id], check=True,
                   env={**os.environ, "AZUREMLCORE_HOME": str(azuremlcore_home)})
    assert run.get_metrics()["late"] == list(range(5000))
    assert isinstance(Experiment(experiment.workspace, "exp"), Experiment)
