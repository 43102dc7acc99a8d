"""The notebooks in examples/notebooks, written as Azure ML v1 notebooks, run to the end in a real kernel.

The kernel is this venv's Python with the `azureml` alias switched on the way SDK-built environments
and jobs get it: AZUREMLCORE_AZUREML_ALIAS=1 read by the SDK's start-up hook.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

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
