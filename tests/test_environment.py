"""Fast tests of Environment, CondaDependencies, RunConfiguration and ScriptRunConfig (no environment builds)."""
from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from azuremlcore.conda_dependencies import CondaDependencies
from azuremlcore.environment import DockerSection, Environment, PythonSection
from azuremlcore.exceptions import UserErrorException
from azuremlcore.runconfig import DockerConfiguration, MpiConfiguration, RunConfiguration
from azuremlcore.script_run_config import ScriptRunConfig


# ------------------------------------------------------------------------------------------ fakes
@dataclass
class _Rec:
    kind: str
    name: str
    version: int
    spec: dict[str, Any]
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    created_time: int = 0


class _FakeStore:
    """The three asset calls Environment uses (same signatures as the workspace store), plus update_asset."""

    def __init__(self) -> None:
        self.rows: list[_Rec] = []

    def put_asset(self, ws: str, kind: str, name: str, spec: dict, description: str | None = None,
                  tags: dict | None = None, properties: dict | None = None) -> _Rec:
        version = 1 + max((r.version for r in self.rows if (r.kind, r.name) == (kind, name)), default=0)
        rec = _Rec(kind, name, version, json.loads(json.dumps(spec)), description, dict(tags or {}),
                   dict(properties or {}), int(time.time()))
        self.rows.append(rec)
        return rec

    def get_asset(self, ws: str, kind: str, name: str, version: int | None = None) -> _Rec | None:
        rows = [r for r in self.rows if (r.kind, r.name) == (kind, name) and (version is None or r.version == version)]
        return max(rows, key=lambda r: r.version) if rows else None

    def list_assets(self, ws: str, kind: str, name: str | None = None) -> list[_Rec]:
        return [r for r in self.rows if r.kind == kind and (name is None or r.name == name)]

    def update_asset(self, ws: str, kind: str, name: str, version: int, **fields: Any) -> _Rec:
        rec = next(r for r in self.rows if (r.kind, r.name, r.version) == (kind, name, version))
        for key, value in fields.items():
            setattr(rec, key, value)
        return rec


class _FakeWorkspace:
    def __init__(self) -> None:
        self._store = _FakeStore()
        self._ws_id = "ws-1"


# ------------------------------------------------------------------------------------------ CondaDependencies
def test_default_conda_dependencies_template() -> None:
    cd = CondaDependencies()
    assert cd.pip_packages == ["azureml-defaults"]
    assert cd.conda_packages == [f"python={platform.python_version()}"]
    assert cd.get_python_version() == platform.python_version()
    assert cd.conda_channels == ["anaconda", "conda-forge"]


def test_create_keeps_pip_list_and_adds_python() -> None:
    pip = ["azureml-mlflow", "scikit-learn==1.5.0", "pandas"]
    cd = CondaDependencies.create(pip_packages=pip, conda_packages=["numpy", "matplotlib"])
    assert cd.pip_packages == pip
    assert cd.conda_packages == [f"python={platform.python_version()}", "numpy", "matplotlib"]
    cd2 = CondaDependencies.create(pip_packages=["six"], python_version="3.8.10", pin_sdk_version=False)
    assert cd2.get_python_version() == "3.8.10"
    assert cd2.conda_packages == ["python=3.8.10"]
    assert CondaDependencies.create(python_version=None).get_python_version() == platform.python_version()


def test_serialize_round_trip_with_awkward_values(tmp_path: Path) -> None:
    cd = CondaDependencies.create(pip_packages=["pkg @ https://example.org/x.whl", "weird: name", "yes", "#hash", "1.5"],
                                  conda_packages=["conda-forge::numpy=1.26", "pip"])
    cd.set_pip_option("--extra-index-url https://example.org/simple")
    cd.add_channel("pytorch")
    text = cd.serialize_to_string()
    back = CondaDependencies._from_string(text)
    assert back.as_dict() == cd.as_dict()
    # the fallback parser (used without PyYAML) reads the same thing
    from azuremlcore._environments import _yaml

    assert CondaDependencies(_underlying_structure=_yaml.loads(text)).as_dict() == cd.as_dict()
    path = cd.save(tmp_path / "env.yml")
    assert CondaDependencies(conda_dependencies_file_path=path) == cd
    assert cd.save_to_file(str(tmp_path), "other.yml").endswith("other.yml")


def test_add_remove_replace_packages_options_channels() -> None:
    cd = CondaDependencies()
    cd.add_pip_package("numpy")
    cd.add_pip_package("numpy==1.26.4")  # same package: replaced, not duplicated
    assert cd.pip_packages == ["azureml-defaults", "numpy==1.26.4"]
    cd.add_conda_package("scipy")
    cd.add_conda_package("scipy=1.11")
    assert cd.conda_packages[-1] == "scipy=1.11" and cd.conda_packages.count("scipy") == 0
    cd.remove_conda_package("scipy")
    assert not any(p.startswith("scipy") for p in cd.conda_packages)
    cd.remove_pip_package("azureml-defaults")
    assert cd.pip_packages == ["numpy==1.26.4"]
    cd.set_pip_index_url("https://a.example/simple")
    cd.set_pip_index_url("https://b.example/simple")
    assert cd.pip_options == ["--index-url https://b.example/simple"]
    cd.remove_pip_option("--index-url")
    assert cd.pip_options == []
    cd.add_channel("pytorch")
    cd.add_channel("pytorch")
    assert cd.conda_channels.count("pytorch") == 1
    cd.remove_channel("anaconda")
    assert "anaconda" not in cd.conda_channels
    cd.set_python_version("3.10")
    assert cd.get_python_version() == "3.10"
    cd.set_pip_requirements(["a", "b"])
    assert cd.pip_packages == ["a", "b"]
    cd.add_tensorflow_pip_package(version="2.16.1")
    assert "tensorflow==2.16.1" in cd.pip_packages
    assert CondaDependencies.merge_requirements(["numpy>=1", "pandas", "numpy<2"]) == ["numpy>=1,<2", "pandas"]


def test_conda_file_not_found_is_clear(tmp_path: Path) -> None:
    with pytest.raises(UserErrorException, match="not found"):
        CondaDependencies(conda_dependencies_file_path=tmp_path / "nope.yml")


# ------------------------------------------------------------------------------------------ Environment
_YML = """\
name: myenv
channels:
  - conda-forge
dependencies:
  - python=3.11
  - numpy=1.26
  - pip
  - pip:
    - azureml-mlflow
    - six==1.16.0  # a comment
"""


def test_environment_defaults() -> None:
    env = Environment("x")
    assert env.version is None
    assert env.python.user_managed_dependencies is False
    assert env.python.interpreter_path == "python"
    assert env.docker.enabled is False
    assert env.environment_variables == {}
    assert isinstance(env.python, PythonSection) and isinstance(env.docker, DockerSection)
    assert env.python.conda_dependencies.pip_packages == ["azureml-defaults"]


def test_from_conda_specification(tmp_path: Path) -> None:
    (tmp_path / "myenv.yml").write_text(_YML)
    env = Environment.from_conda_specification(name="sk", file_path=str(tmp_path / "myenv.yml"))
    cd = env.python.conda_dependencies
    assert env.name == "sk"
    assert cd.get_python_version() == "3.11"
    assert cd.pip_packages == ["azureml-mlflow", "six==1.16.0"]
    assert cd.conda_packages == ["python=3.11", "numpy=1.26", "pip"]
    assert cd.conda_channels == ["conda-forge"]


def test_from_pip_requirements(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("idna==3.7\n")
    (tmp_path / "requirements.txt").write_text("# tools\nsix>=1.16\n\n-r base.txt\nrequests  # http\n")
    env = Environment.from_pip_requirements("p", str(tmp_path / "requirements.txt"), pip_version="24.0")
    cd = env.python.conda_dependencies
    assert cd.pip_packages == ["six>=1.16", "idna==3.7", "requests"]
    assert f"python={platform.python_version()}" in cd.conda_packages and "pip=24.0" in cd.conda_packages


def test_save_and_load_directory_round_trip(tmp_path: Path) -> None:
    env = Environment("roundtrip")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["six"], conda_packages=["numpy"])
    env.environment_variables = {"A": "1"}
    env.docker.enabled = True
    env.save_to_directory(str(tmp_path / "e"))
    assert sorted(p.name for p in (tmp_path / "e").iterdir()) == ["azureml_environment.json", "conda_dependencies.yml"]
    back = Environment.load_from_directory(str(tmp_path / "e"))
    assert back == env and back._spec_hash() == env._spec_hash()
    with pytest.raises(UserErrorException, match="overwrite"):
        env.save_to_directory(str(tmp_path / "e"))
    env.save_to_directory(str(tmp_path / "e"), overwrite=True)
    # the YAML is meant to be edited by hand
    (tmp_path / "e" / "conda_dependencies.yml").write_text(_YML)
    assert Environment.load_from_directory(str(tmp_path / "e")).python.conda_dependencies.pip_packages[-1] == "six==1.16.0"


def test_to_from_dict_and_spec_hash_stability() -> None:
    a = Environment("a")
    a.python.conda_dependencies = CondaDependencies.create(pip_packages=["six", "idna"], python_version="3.11.7")
    b = Environment._from_dict(json.loads(json.dumps(a._to_dict())))
    assert b._to_dict() == a._to_dict()
    c = Environment("another-name")
    c.python.conda_dependencies = CondaDependencies.create(pip_packages=["idna", "six"], python_version="3.11.7")
    c.environment_variables = {"X": "1"}
    assert c._spec_hash() == a._spec_hash()  # name, package order and variables do not change the build
    c.python.conda_dependencies.add_pip_package("requests")
    assert c._spec_hash() != a._spec_hash()
    # stable across processes (no dependence on hash seeds or dict order)
    code = ("from azuremlcore.environment import Environment; from azuremlcore.conda_dependencies import "
            "CondaDependencies as C; e = Environment('a'); e.python.conda_dependencies = "
            "C.create(pip_packages=['six', 'idna'], python_version='3.11.7'); print(e._spec_hash())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == a._spec_hash()


def test_clone_is_a_deep_copy() -> None:
    env = Environment("orig")
    env.version = "3"
    clone = env.clone("mlflow-env")
    clone.python.conda_dependencies.add_pip_package("azureml-mlflow")
    assert clone.name == "mlflow-env" and clone.version is None
    assert "azureml-mlflow" not in env.python.conda_dependencies.pip_packages


def test_docker_definitions_are_stored(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM ubuntu:22.04\n")
    env = Environment.from_dockerfile("d", str(tmp_path / "Dockerfile"))
    assert env.docker.base_dockerfile == "FROM ubuntu:22.04\n" and env.docker.base_image is None
    assert env.python.user_managed_dependencies is True
    img = Environment.from_docker_image("i", "python:3.11-slim")
    assert img.docker.base_image == "python:3.11-slim"
    env.save_to_directory(str(tmp_path / "saved"))
    assert Environment.load_from_directory(str(tmp_path / "saved")).docker.base_dockerfile == "FROM ubuntu:22.04\n"


def test_docker_only_environment_fails_clearly_at_build(tmp_path: Path) -> None:
    (tmp_path / "req.txt").write_text("six\n")
    env = Environment.from_docker_image("i", "python:3.11-slim", pip_requirements=str(tmp_path / "req.txt"))
    from azuremlcore._environments import materialise

    with pytest.raises(UserErrorException, match="Docker is not available"):
        materialise(env)
    env.python.user_managed_dependencies = True  # then it runs with this interpreter
    assert materialise(env).python == Path(sys.executable)


def test_user_managed_interpreter_path(tmp_path: Path) -> None:
    from azuremlcore._environments import materialise

    env = Environment("um")
    env.python.user_managed_dependencies = True
    assert materialise(env).python == Path(sys.executable)
    env.python.interpreter_path = str(tmp_path / "missing-python")
    with pytest.raises(UserErrorException, match="does not exist"):
        materialise(env)


def test_conda_only_package_error_without_conda(monkeypatch: pytest.MonkeyPatch) -> None:
    from azuremlcore._environments import _materialise

    monkeypatch.setattr(_materialise, "_conda_binary", lambda: None)
    env = Environment("c")
    env.python.conda_dependencies = CondaDependencies.create(conda_packages=["r-base=4.3", "numpy"])
    with pytest.raises(UserErrorException, match=r"r-base=4\.3") as info:
        _materialise.materialise(env)
    assert "numpy" not in str(info.value).split("equivalent here:")[1].split(".")[0]


def test_resolve_maps_conda_to_pypi_and_drops_sdk_packages() -> None:
    from azuremlcore._environments._materialise import resolve

    env = Environment("r")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["azureml-defaults", "azureml-mlflow", "six"],
        conda_packages=["pytorch::pytorch=2.2", "py-xgboost", "scikit-learn=1.5.0=py311_0", "pip", "cudatoolkit=11.8"],
        python_version="3.11")
    res = resolve(env)
    assert res.python_request == "3.11"
    assert res.requirements == ["torch==2.2.*", "xgboost", "scikit-learn==1.5.0", "mlflow-skinny", "six"]
    assert res.conda_only == []


# ------------------------------------------------------------------------------------------ registry
def test_register_get_list_with_store_api() -> None:
    ws = _FakeWorkspace()
    env = Environment("mine")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["six"])
    first = env.register(workspace=ws)
    assert first.version == "1" and env.version is None
    assert env.register(ws).version == "1"  # same definition: same version
    env.python.conda_dependencies.add_pip_package("idna")
    assert env.register(ws).version == "2"
    latest = Environment.get(workspace=ws, name="mine")
    assert latest.version == "2" and "idna" in latest.python.conda_dependencies.pip_packages
    assert Environment.get(ws, "mine", version="1").python.conda_dependencies.pip_packages == ["six"]
    listed = Environment.list(workspace=ws)
    assert listed["mine"].version == "2" and "AzureML-Minimal" in listed
    Environment.label(ws, "mine", "1", ["prod"])
    assert Environment.get(ws, "mine", label="prod").version == "1"
    with pytest.raises(UserErrorException, match="No environment 'nope'"):
        Environment.get(ws, "nope")
    with pytest.raises(UserErrorException, match="reserved"):
        Environment("AzureML-mine").register(ws)


def test_curated_environments() -> None:
    ws = _FakeWorkspace()
    sk = Environment.get(workspace=ws, name="AzureML-sklearn-1.5")
    assert "scikit-learn==1.5.*" in sk.python.conda_dependencies.pip_packages  # the series its name says
    assert sk.python.conda_dependencies.get_python_version() == platform.python_version()
    old = Environment.get(ws, "AzureML-sklearn-0.24-ubuntu18.04-py37-cpu")
    assert "scikit-learn==0.24.*" in old.python.conda_dependencies.pip_packages
    assert old.python.conda_dependencies.get_python_version() == "3.8"  # py37 raised to the oldest job Python
    minimal = Environment.get(ws, "AzureML-Minimal", version="1")
    assert minimal.version == "1" and minimal.python.user_managed_dependencies is False
    torch = Environment.get(ws, "azureml-acpt-pytorch-1.11-cuda11.3")
    assert "torch==1.11.*" in torch.python.conda_dependencies.pip_packages


def test_register_against_the_real_workspace(workspace: Any) -> None:
    pytest.importorskip("azuremlcore.workspace")
    env = Environment("real-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["six"])
    reg = env.register(workspace)
    assert reg.version == "1"
    got = Environment.get(workspace, "real-env")
    assert got == reg and got.python.conda_dependencies.pip_packages == ["six"]
    assert Environment.list(workspace)["real-env"].version == "1"


# ------------------------------------------------------------------------------------------ run configs
def test_run_configuration_defaults_and_save_load(tmp_path: Path) -> None:
    rc = RunConfiguration()
    assert rc.target == "local" and rc.framework == "Python" and rc.communicator == "None"
    assert rc.node_count == 1 and rc.environment_variables == {} and rc.arguments == []
    assert rc.environment.name == "default-environment"
    assert rc.environment.python.user_managed_dependencies is False
    cd = CondaDependencies.create(pip_packages=["six"])
    rc2 = RunConfiguration(conda_dependencies=cd, framework="python", communicator="OpenMpi")
    assert rc2.environment.python.conda_dependencies is cd and rc2.communicator == "OpenMpi"
    rc2.environment_variables = {"K": "V"}
    rc2.target = type("Compute", (), {"name": "cpu-cluster"})()
    assert rc2.target == "cpu-cluster"
    rc2.save(path=str(tmp_path), name="mine")
    assert (tmp_path / ".azureml" / "mine.runconfig").is_file()
    back = RunConfiguration.load(str(tmp_path), name="mine")
    assert back.target == "cpu-cluster" and back.environment_variables == {"K": "V"}
    assert back.environment.python.conda_dependencies.pip_packages == ["six"]
    rc2.save(path=str(tmp_path), name="sep", separate_environment_yaml=True)
    assert RunConfiguration.load(str(tmp_path), "sep").environment.python.conda_dependencies.pip_packages == ["six"]
    RunConfiguration.delete(str(tmp_path), "mine")
    with pytest.raises(UserErrorException):
        RunConfiguration.load(str(tmp_path), "mine")


def test_script_run_config_defaults(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('hi')\n")
    dataset_handle = object()
    args = ["--epochs", 2, "--data", dataset_handle, "--lr", 0.5]
    src = ScriptRunConfig(source_directory=str(tmp_path), script="train.py", arguments=args)
    assert src.arguments is args and src.run_config.arguments == args
    assert src.run_config.target == "local"
    assert src.run_config.environment.name == "default-environment"
    assert src.run_config.max_run_duration_seconds == ScriptRunConfig.MAX_DURATION_SECONDS_DEFAULT == 2592000
    env = Environment("e")
    compute = type("Compute", (), {"name": "cpu-cluster"})()
    src2 = ScriptRunConfig(source_directory=str(tmp_path), script="train.py", compute_target=compute, environment=env,
                           distributed_job_config=MpiConfiguration(node_count=2),
                           docker_runtime_config=DockerConfiguration(use_docker=True))
    assert src2.run_config.target == "cpu-cluster" and src2.run_config.environment is env
    assert src2.run_config.node_count == 2 and src2.run_config.docker.use_docker
    src2.run_config.target = "local"
    src2.run_config.environment = Environment("other")
    assert src2.run_config.environment.name == "other"
    assert ScriptRunConfig(str(tmp_path), command="python train.py").command == "python train.py"


def test_script_run_config_errors(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("")
    with pytest.raises(UserErrorException, match="not found in source_directory"):
        ScriptRunConfig(source_directory=str(tmp_path), script="missing.py")
    with pytest.raises(UserErrorException, match="either script or command"):
        ScriptRunConfig(source_directory=str(tmp_path), script="train.py", command=["python", "train.py"])
    with pytest.raises(UserErrorException, match="not a directory"):
        ScriptRunConfig(source_directory=str(tmp_path / "nope"), script="train.py")


def test_import_environment_is_light() -> None:
    code = ("import sys, azuremlcore.environment, azuremlcore.runconfig, azuremlcore.script_run_config; "
            "bad = [m for m in ('sqlalchemy', 'yaml', 'pydantic', 'azuremlcore._environments._materialise') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_uv_uses_the_system_store_only_where_there_is_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """uv is told to trust the system's certificates where a bundle exists, never over the user's own choice."""
    from azuremlcore._environments import _materialise

    for name in ("UV_SYSTEM_CERTS", "UV_NATIVE_TLS", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_materialise.sys, "platform", "linux")
    monkeypatch.setattr(_materialise, "_CA_BUNDLES", (str(tmp_path / "missing.crt"),))
    assert "UV_SYSTEM_CERTS" not in _materialise._uv_environ()  # a container without ca-certificates

    bundle = tmp_path / "ca.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert _materialise._uv_environ()["UV_SYSTEM_CERTS"] == "1"

    monkeypatch.setenv("UV_SYSTEM_CERTS", "0")
    assert _materialise._uv_environ()["UV_SYSTEM_CERTS"] == "0"
