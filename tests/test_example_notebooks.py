"""The notebooks in examples/notebooks, written as Azure ML v1 notebooks, run to the end in a real kernel.

The kernel is this venv's Python with the `azureml` alias switched on the way SDK-built environments
and jobs get it: AZUREMLCORE_AZUREML_ALIAS=1 read by the SDK's start-up hook.
"""
from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

pytestmark = pytest.mark.slow
NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "examples" / "notebooks").glob("*.ipynb"))
# What the SDK's start-up .pth runs, then the kernel (argv after -c: -f <connection file>).
_KERNEL_BOOT = ("import azuremlcore._startup as s; s.run_hooks(); "
                "from ipykernel.kernelapp import launch_new_instance; launch_new_instance()")


@pytest.fixture
def alias_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernelspec: this Python, the start-up hook, AZUREMLCORE_AZUREML_ALIAS=1."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    spec = tmp_path / "jupyter" / "kernels" / "azuremlcore-alias"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-c", _KERNEL_BOOT, "-f", "{connection_file}"],
        "display_name": "Python (azureml alias)", "language": "python",
        "env": {"AZUREMLCORE_AZUREML_ALIAS": "1"}}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.delenv("AZUREMLCORE_AZUREML_ALIAS", raising=False)
    return "azuremlcore-alias"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_to_the_end(notebook: Path, alias_kernel: str, workdir: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    shutil.copy(notebook, workdir / notebook.name)  # it writes config, scripts and outputs beside itself
    nb = nbformat.read(workdir / notebook.name, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name=alias_kernel,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    first = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    import azuremlcore

    assert f"SDK version: {azuremlcore.__version__}" in first
    assert (workdir / ".azureml" / "config.json").is_file()
    CHECKS.get(notebook.stem, lambda nb: None)(nb)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _outputs(cell: Any, mime: str) -> list[Any]:
    return [o["data"][mime] for o in cell.outputs if mime in o.get("data", {})]


def _cell(nb: Any, text: str) -> Any:
    return next(c for c in nb.cells if c.cell_type == "code" and text in c.source)


def _widget_html(nb: Any, view: dict) -> str:
    """The HTML of every part of a displayed widget, from the widget state the notebook saved."""
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    box = state[view["model_id"]]["state"]
    parts = [state[ref.removeprefix("IPY_MODEL_")]["state"] for ref in box["children"]]
    return "".join(p.get("value", "") for p in parts)


def _check_rundetails(nb: Any) -> None:
    """The HTML tables name their objects and link their pages; both widgets were shown and their state saved."""
    [ws_html] = _outputs(_cell(nb, "ws.write_config()"), "text/html")
    assert "<td>my-workspace</td>" in ws_html and "<th>Resource group</th>" in ws_html
    assert re.search(r'<a href="[^"]+"[^>]*>Link to workspace</a>', ws_html)
    [exp_html] = _outputs(_cell(nb, 'name="watch-runs"'), "text/html")
    assert "<td>watch-runs</td>" in exp_html and "Report Page" in exp_html
    assert re.search(r'<a href="[^"]+"[^>]*>Link to experiment runs</a>', exp_html)
    [run_html] = _outputs(_cell(nb, "run.complete()"), "text/html")
    assert "<td>Completed</td>" in run_html and "Details Page" in run_html and "/runs/watch-runs_" in run_html
    [model_html] = _outputs(_cell(nb, "register_model"), "text/html")
    assert "<td>watched-model</td>" in model_html and "Link to model" in model_html

    finished = _cell(nb, "RunDetails(run).show()")
    [view] = _outputs(finished, WIDGET_VIEW)
    html = _widget_html(nb, view)
    assert "Completed" in html and "loss" in html and "(50 values)" in html and "<svg" in html
    assert "learning_rate" in html and "0.01" in html and "fold-2" in html and "0.82" in html
    [saved_copy] = _outputs(finished, "text/html")  # what GitHub and nbviewer show
    assert "Completed" in saved_copy and "fold-2" in saved_copy

    # Shown before the script logged anything: what the widget holds now came from its refresher,
    # while the next cell blocked the kernel in wait_for_completion.
    live = _cell(nb, "RunDetails(submitted).show()")
    [view] = _outputs(live, WIDGET_VIEW)
    html = _widget_html(nb, view)
    assert "val_loss" in html and "epoch 19" in html
    # The run ended while the next cell waited: the end-of-cell catch-up saved its final state.
    assert "Completed" in html and "(20 values)" in html
    [saved_copy] = _outputs(live, "text/html")
    assert "Completed" in saved_copy and "(20 values)" in saved_copy
    assert "Completed 20" in "".join(o.get("text", "") for o in _cell(nb, "wait_for_completion").outputs)


# Checks of a notebook's outputs beyond running to the end, by notebook name.
CHECKS: dict[str, Callable[[Any], None]] = {"watch-runs-with-rundetails": _check_rundetails}
