"""Quickstart: an Azure ML v1 style experiment on an embedded workspace, end to end, no cloud.

Run with `make demo`. The workspace lives in a temporary folder unless AZUREMLCORE_HOME is set.
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

os.environ.setdefault("AZUREMLCORE_HOME", tempfile.mkdtemp(prefix="azuremlcore-demo-"))

from azuremlcore import Environment, Experiment, ScriptRunConfig, Workspace  # noqa: E402

SRC = Path(__file__).resolve().parent / "src"


def main() -> None:
    """Create a workspace, log a small training loop, and print what the run recorded."""
    workdir = Path(tempfile.mkdtemp(prefix="quickstart-"))
    os.chdir(workdir)
    ws = Workspace.create(name="quickstart", subscription_id="00000000-0000-0000-0000-000000000000",
                          resource_group="demo-rg", create_resource_group=True, exist_ok=True)
    ws.write_config()
    ws = Workspace.from_config()
    print(ws.name, ws.resource_group, ws.location, ws.subscription_id, sep="\n")

    exp = Experiment(ws, "quickstart-exp")
    with exp.start_logging(display_name="ridge-sweep") as run:
        run.tag("team", "demo")
        run.add_properties({"author": "quickstart"})
        for alpha in (0.0, 0.1, 0.2, 0.4, 0.8):
            mse = 3000 + 900 * (alpha - 0.3) ** 2  # a stand-in for a real model's error curve
            run.log("alpha", alpha)
            run.log("mse", mse)
        run.log_list("losses", [math.exp(-i / 3) for i in range(5)])
        run.log_row("roc", fpr=0.1, tpr=0.7)
        run.log_row("roc", fpr=0.3, tpr=0.9)
        Path("outputs").mkdir(exist_ok=True)
        Path("outputs/model.txt").write_text("weights: 1 2 3\n")

    metrics = run.get_metrics()
    best = metrics["alpha"][min(range(len(metrics["mse"])), key=metrics["mse"].__getitem__)]
    print(f"\nRun {run.id}: {run.get_status()}")
    for name, value in metrics.items():
        print(f"  {name}: {value}")
    print(f"  best alpha: {best}")
    print(f"Files: {run.get_file_names()}")
    print(f"Runs in '{exp.name}': {[r.id for r in exp.get_runs()]}")

    # The main job: a training script submitted to local compute, its output streamed live.
    env = Environment("quickstart-env")
    env.python.user_managed_dependencies = True  # this interpreter; a CondaDependencies spec builds a cached venv
    config = ScriptRunConfig(source_directory=str(SRC), script="train.py", arguments=["--alphas", 0.0, 0.3, 0.6],
                             compute_target="local", environment=env)
    job = Experiment(ws, "quickstart-job").submit(config, tags={"team": "demo"})
    job.wait_for_completion(show_output=True)
    print(f"Job {job.id}: {job.get_status()}")
    for name, value in job.get_metrics().items():
        print(f"  {name}: {value}")
    print(f"Files: {job.get_file_names()}")
    print(f"Workspace home: {os.environ['AZUREMLCORE_HOME']}")


if __name__ == "__main__":
    main()
