"""Real environment builds with uv, in a temporary AZUREMLCORE_HOME (slow: network and disk)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from azuremlcore.conda_dependencies import CondaDependencies
from azuremlcore.environment import Environment
from azuremlcore.exceptions import UserErrorException

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "amlhome"
    monkeypatch.setenv("AZUREMLCORE_HOME", str(h))
    return h


def _env(*pip: str, name: str = "t") -> Environment:
    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=list(pip))
    return env


def test_build_then_reuse(home: Path) -> None:
    from azuremlcore._environments import materialise

    lines: list[str] = []
    first = materialise(_env("six"), log=lines.append)
    assert first.reused is False
    assert first.env_dir.parent == home / "envs"
    assert first.python.exists()
    assert "six==" in first.frozen and "sqlalchemy==" in first.frozen.lower()
    assert "azureml-defaults" not in first.frozen  # provided by this SDK, never installed from PyPI
    assert (first.env_dir / "azuremlcore-freeze.txt").read_text() == first.frozen
    assert sum(line.startswith("Building environment") for line in lines) == 1
    out = subprocess.run([str(first.python), "-c", "import six; print(six.__name__)"], capture_output=True, text=True)
    assert out.stdout.strip() == "six", out.stderr

    second = materialise(_env("six", name="another-name"), log=lines.append)
    assert second.reused is True
    assert second.python == first.python and second.spec_hash == first.spec_hash
    assert sum(line.startswith("Building environment") for line in lines) == 1
    assert not list((home / "envs").glob(".build-*"))  # temp dirs renamed away or cleaned


def test_sdk_is_importable_and_usable_inside_the_env(home: Path) -> None:
    from azuremlcore._environments import materialise

    mat = materialise(_env("idna"))
    code = textwrap.dedent("""
        import azuremlcore, azuremlcore.environment, sqlalchemy, yaml, idna
        from azuremlcore.conda_dependencies import CondaDependencies
        print(azuremlcore.__file__)
        print(CondaDependencies.create(pip_packages=['x']).pip_packages)
    """)
    out = subprocess.run([str(mat.python), "-c", code], capture_output=True, text=True, cwd=str(home.parent))
    assert out.returncode == 0, out.stderr
    import azuremlcore

    assert Path(out.stdout.splitlines()[0]).resolve() == Path(azuremlcore.__file__).resolve()
    assert out.stdout.splitlines()[1] == "['x']"


def test_writing_to_a_workspace_inside_the_env(home: Path, workspace) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("azuremlcore.workspace")
    from azuremlcore._environments import materialise

    workspace.write_config()
    mat = materialise(_env("six"))
    code = ("from azuremlcore import Workspace, Experiment\n"
            "ws = Workspace.from_config()\n"
            "print(Experiment(ws, 'from-env').name)\n")
    out = subprocess.run([str(mat.python), "-c", code], capture_output=True, text=True, cwd=os.getcwd(),
                         env={**os.environ, "AZUREMLCORE_HOME": os.environ["AZUREMLCORE_HOME"]})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "from-env"


_CHILD = """
import sys
from azuremlcore.environment import Environment
from azuremlcore.conda_dependencies import CondaDependencies
from azuremlcore._environments import materialise
env = Environment("p")
env.python.conda_dependencies = CondaDependencies.create(pip_packages=["six", "idna"])
mat = materialise(env, log=lambda line: print(line, flush=True))
print("RESULT", mat.python, mat.reused, flush=True)
"""


def test_concurrent_processes_and_threads_build_once(home: Path, tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    procs = [subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    # and two threads in this process, at the same time
    from azuremlcore._environments import materialise

    thread_lines: list[str] = []
    results = []

    def worker() -> None:
        env = Environment("th")
        env.python.conda_dependencies = CondaDependencies.create(pip_packages=["idna", "six"])
        results.append(materialise(env, log=thread_lines.append))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    outputs = [p.communicate(timeout=240) for p in procs]
    for t in threads:
        t.join(timeout=240)
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err
    all_lines = "\n".join(out for out, _ in outputs).splitlines() + thread_lines
    assert sum(line.startswith("Building environment") for line in all_lines) == 1, "\n".join(all_lines)
    pythons = {line.split()[1] for line in all_lines if line.startswith("RESULT")} | {str(r.python) for r in results}
    assert len(pythons) == 1
    assert len(list((home / "envs").iterdir())) == 2  # the env and the .locks folder


def test_missing_python_version_fails_at_once(home: Path) -> None:
    from azuremlcore._environments import materialise

    env = _env("six")
    env.python.conda_dependencies.set_python_version("3.99")
    with pytest.raises(UserErrorException) as info:
        materialise(env)
    message = str(info.value)
    assert "Python 3.99 is not installed" in message
    assert "Interpreters found:" in message and ".".join(map(str, sys.version_info[:2])) in message
    assert not (home / "envs").exists() or not any((home / "envs").glob("[0-9a-f]*"))


def test_conda_only_package_names_it(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from azuremlcore._environments import _materialise

    monkeypatch.setattr(_materialise, "_conda_binary", lambda: None)  # the machine may or may not have conda
    env = Environment("conda-only")
    env.python.conda_dependencies = CondaDependencies.create(conda_packages=["numpy", "libopencv", "r-base"])
    with pytest.raises(UserErrorException, match="libopencv, r-base") as info:
        _materialise.materialise(env)
    assert "no PyPI equivalent" in str(info.value)


def test_conda_packages_with_pypi_twins_are_installed(home: Path, tmp_path: Path) -> None:
    from azuremlcore._environments import materialise

    yml = tmp_path / "env.yml"
    yml.write_text("name: x\nchannels: [conda-forge]\ndependencies:\n  - python=%d.%d\n  - six=1.16\n  - pip\n"
                   "  - pip:\n    - azureml-defaults\n    - idna\n" % sys.version_info[:2])
    mat = materialise(Environment.from_conda_specification("from-yml", str(yml)))
    frozen = mat.frozen.lower()
    assert "six==1.16." in frozen and "idna==" in frozen
    meta = json.loads((mat.env_dir / "azuremlcore-env.json").read_text())
    assert meta["requirements"] == ["six==1.16.*", "idna"]


def test_build_error_is_clear_and_leaves_nothing(home: Path) -> None:
    from azuremlcore._environments import materialise

    with pytest.raises(UserErrorException, match="installing packages"):
        materialise(_env("this-package-does-not-exist-azuremlcore-xyz"))
    assert not any(p.name.startswith(".build-") for p in (home / "envs").iterdir())


def test_build_trusts_the_system_certificate_store(home: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A build behind a proxy whose root is only in the system store works, as pip does, without SSL_CERT_FILE.

    On a machine whose index is reached through such a proxy (this project's machines), uv with only its
    bundled roots fails the build with "invalid peer certificate: UnknownIssuer".
    """
    from azuremlcore._environments import materialise

    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE",
                 "UV_SYSTEM_CERTS", "UV_NATIVE_TLS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))  # nothing cached: the index is asked
    mat = materialise(_env("six==1.16.0"))
    assert "six==1.16.0" in mat.frozen.lower()
