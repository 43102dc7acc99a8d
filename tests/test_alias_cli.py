"""`aml alias enable|disable|status` on a fresh virtualenv that has the SDK on its path."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from azuremlcore._cli.alias import PTH_NAME
from azuremlcore._cli.main import main

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _venv(folder: Path, with_sdk: bool) -> tuple[Path, Path]:
    """A new venv (made by uv) and its site-packages; `with_sdk` puts this checkout on its path."""
    from azuremlcore._environments._materialise import uv_binary

    uv = uv_binary()
    if uv is None:
        pytest.skip(reason="uv is not installed")
    subprocess.run([uv, "venv", "-q", str(folder)], check=True, env=dict(os.environ, UV_PYTHON_DOWNLOADS="never"))
    python = folder / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    if with_sdk:  # sorts before the alias .pth, as an installed SDK's own path entry would
        (purelib / "_sdk_checkout.pth").write_text(str(REPO) + "\n")
    return python, purelib


def _run(python: Path, code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AZUREMLCORE_AZUREML_ALIAS")}
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, env={**environ, **env})


def test_enable_status_disable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    python, purelib = _venv(tmp_path / "venv", with_sdk=True)
    code = "import azureml.core, azuremlcore; print(azureml.core.VERSION, azureml.core.Run is azuremlcore.Run)"
    assert "No module named 'azureml'" in _run(python, code).stderr

    assert main(["alias", "enable", "--python", str(tmp_path / "venv")]) == 0  # a venv folder names its python
    pth = purelib / PTH_NAME
    assert "enabled" in capsys.readouterr().out and pth.is_file()
    from azuremlcore._startup import PTH_LINE

    assert pth.read_text().startswith(PTH_LINE)
    import azuremlcore

    assert _run(python, code).stdout.split() == [azuremlcore.__version__, "True"]
    assert _run(python, code, AZUREMLCORE_AZUREML_ALIAS="0").returncode != 0  # one process opts out

    assert main(["alias", "status", "--python", str(python)]) == 0
    out = capsys.readouterr().out
    assert f"{pth} (present)" in out and f"azureml.core: azuremlcore {azuremlcore.__version__} (alias)" in out

    assert main(["alias", "enable", "--python", str(python)]) == 0  # again: same file
    assert main(["alias", "disable", "--python", str(python)]) == 0
    assert not pth.exists() and "disabled" in capsys.readouterr().out
    assert _run(python, code).returncode != 0
    assert main(["alias", "disable", "--python", str(python)]) == 0
    assert "was not enabled" in capsys.readouterr().out


def test_enable_refuses_an_interpreter_without_the_sdk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    python, purelib = _venv(tmp_path / "bare", with_sdk=False)
    assert main(["alias", "enable", "--python", str(python)]) == 1
    assert "cannot import azuremlcore" in capsys.readouterr().err and not (purelib / PTH_NAME).exists()
